import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {optionMeta} from '../option-meta.js';
import {table, text} from '../output-blocks.js';
import {formatBytes} from '../progress-lines.js';
import {onlyOption, openRedis, openTarget, targetOption} from './backup-shared.js';

export const backupCreate = defineCommand({
	path: ['backup', 'create'],
	description: 'Back up PostgreSQL (pg_dump) and Redis (RDB) to S3 or a directory; the manifest is written last',
	options: z.object({
		...globalOptions,
		target: targetOption,
		only: onlyOption,
		redisMode: z
			.enum(['auto', 'sync', 'dump'])
			.default('auto')
			.describe(optionMeta({description: 'Redis: sync (RDB over replication), dump (SCAN+DUMP, for servers that refuse SYNC), auto', valueDescription: 'mode'})),
		skipRowCounts: z.boolean().default(false).describe(optionMeta({description: 'Do not count every table exactly in the dump snapshot (faster; drills then cannot compare counts)'})),
	}),
	async run({options}, context) {
		const [{createBackup}, {resolveDatabaseConfig}, {ActionableError}] = await Promise.all([
			import('../../core/backup/create-backup.js'),
			import('../../core/config/database-config.js'),
			import('../../core/errors.js'),
		]);
		const components = options.only ? [options.only] : (['postgres', 'redis'] as const);
		const target = await openTarget(options.target, context.env);
		const redis = components.includes('redis') ? await openRedis(options.redisUrl, context.env, 'msdb:backup') : undefined;
		if (components.includes('redis') && !redis) {
			throw new ActionableError('E_BAD_ARGUMENT', 'No Redis to back up: --redis-url and REDIS_URL are not set.', {
				nextStep: 'Pass --redis-url redis://host:6379 (or set REDIS_URL), or back up PostgreSQL alone with --only postgres.',
			});
		}

		try {
			const manifest = await createBackup({
				target,
				components: [...components],
				database: components.includes('postgres') ? resolveDatabaseConfig(options.databaseUrl, context.env) : undefined,
				redis: redis ? {endpoint: redis.endpoint, client: redis.client, mode: options.redisMode} : undefined,
				rowCounts: !options.skipRowCounts,
				onEvent: context.onEvent,
				signal: context.signal,
			});
			const rows = [
				...(manifest.postgres ? [['postgres', manifest.postgres.artifact.key, formatBytes(manifest.postgres.artifact.bytes), `${manifest.postgres.database} (PostgreSQL ${manifest.postgres.serverVersion}, LSN ${manifest.postgres.walLsn})`]] : []),
				...(manifest.redis
					? [['redis', manifest.redis.artifact.key, formatBytes(manifest.redis.artifact.bytes), `${Object.values(manifest.redis.keysPerDatabase).reduce((sum, count) => sum + count, 0)} keys (Redis ${manifest.redis.serverVersion}, ${manifest.redis.mode})`]]
					: []),
			];
			return {
				exitCode: 0,
				json: manifest,
				human: [
					table(['COMPONENT', 'ARTIFACT', 'SIZE', 'WHAT'], rows),
					text(`Backup ${manifest.id} written to ${target.display}. Check it with \`msdb backup verify ${manifest.id} --drill\`.`, 'success'),
				],
			};
		} finally {
			redis?.close();
		}
	},
});
