import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {argumentMeta, optionMeta} from '../option-meta.js';
import {text, type OutputBlock} from '../output-blocks.js';
import {onlyOption, openRedis, openTarget, targetOption} from './backup-shared.js';

export const restore = defineCommand({
	path: ['restore'],
	description: 'Restore a backup: verify first; PostgreSQL into a new database or swapped in; Redis keys replayed',
	options: z.object({
		...globalOptions,
		target: targetOption,
		only: onlyOption,
		into: z
			.enum(['new', 'replace'])
			.default('new')
			.describe(optionMeta({description: 'PostgreSQL: a new database beside the live one, or swap it in (needs --confirm <database-name>)', valueDescription: 'new|replace'})),
		confirm: z
			.array(z.string())
			.optional()
			.describe(optionMeta({description: 'Name what a destructive step replaces: the database for --into replace, host:port for --redis-flush', valueDescription: 'name'})),
		redisFlush: z.boolean().default(false).describe(optionMeta({description: 'Empty the target Redis first (needs --confirm <host:port>)'})),
		newDatabaseName: z.string().optional().describe(optionMeta({description: 'Name of the new database (--into new)', valueDescription: 'name'})),
	}),
	args: z.tuple([z.string().describe(argumentMeta({name: 'backup', description: 'A backup id, or the location of its manifest.json'}))]),
	async run({options, args}, context) {
		const [{restoreBackup}, {resolveBackupReference}, {resolveDatabaseConfig}, {readBackup}] = await Promise.all([
			import('../../core/backup/restore-backup.js'),
			import('../../core/backup/backup-reference.js'),
			import('../../core/config/database-config.js'),
			import('../../core/backup/backup-catalogue.js'),
		]);
		const reference = resolveBackupReference(args[0], options.target ?? context.env.MSDB_BACKUP_TARGET);
		const target = await openTarget(reference.targetUrl, context.env);
		const manifest = await readBackup(target, reference.id);
		const components = options.only ? [options.only] : manifest.components;
		const redis = components.includes('redis') ? await openRedis(options.redisUrl, context.env, 'msdb:restore') : undefined;
		try {
			const result = await restoreBackup({
				target,
				id: reference.id,
				manifest,
				components,
				into: options.into,
				newDatabaseName: options.newDatabaseName,
				confirm: options.confirm,
				redisFlush: options.redisFlush,
				database: components.includes('postgres') ? resolveDatabaseConfig(options.databaseUrl, context.env) : undefined,
				redis: redis ? {endpoint: redis.endpoint, client: redis.client} : undefined,
				onEvent: context.onEvent,
				signal: context.signal,
			});
			const human: OutputBlock[] = [];
			if (result.postgres) {
				human.push(text(`PostgreSQL: restored into "${result.postgres.database}"${result.postgres.asideDatabase ? `; the previous database is "${result.postgres.asideDatabase}"` : ''}`, 'success'));
				for (const warning of result.postgres.warnings) {
					human.push(text(`! ${warning}`, 'warning'));
				}
			}

			if (result.redis) {
				human.push(text(`Redis: ${result.redis.restored} key(s) restored${result.redis.skippedExpired ? `, ${result.redis.skippedExpired} expired skipped` : ''}`, 'success'));
			}

			for (const problem of result.problems) {
				human.push(text(`✖ ${problem}`, 'error'));
			}

			human.push(text('Next steps:', 'info'), ...result.nextSteps.map(step => text(`  • ${step}`)));
			const {postgres, redis: redisResult, ...rest} = result;
			return {
				exitCode: result.problems.length > 0 ? 3 : 0,
				json: {
					...rest,
					postgres: postgres && {into: postgres.into, database: postgres.database, asideDatabase: postgres.asideDatabase ?? null, switchBack: postgres.switchBack ?? null, rowCounts: postgres.rowCounts ?? null, warnings: postgres.warnings},
					redis: redisResult && {restored: redisResult.restored, restoredPerDatabase: redisResult.restoredPerDatabase, skippedExpired: redisResult.skippedExpired, keysPerDatabase: redisResult.keysPerDatabase},
				},
				human,
			};
		} finally {
			redis?.close();
		}
	},
});
