import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {argumentMeta, optionMeta} from '../option-meta.js';
import {text, type OutputBlock} from '../output-blocks.js';
import {openTarget, targetOption} from './backup-shared.js';

export const backupVerify = defineCommand({
	path: ['backup', 'verify'],
	description: 'Check a backup: manifest checksum, every artifact re-hashed, pg_restore --list, RDB CRC64; --drill restores into scratch copies',
	options: z.object({
		...globalOptions,
		target: targetOption,
		drill: z.boolean().default(false).describe(optionMeta({description: 'Also restore into a scratch database and a scratch Redis and compare counts'})),
	}),
	args: z.tuple([z.string().describe(argumentMeta({name: 'id', description: 'The backup id (msdb backup list)'}))]),
	async run({options, args}, context) {
		const [{verifyBackup}, {resolveDatabaseConfig}] = await Promise.all([
			import('../../core/backup/verify-backup.js'),
			import('../../core/config/database-config.js'),
		]);
		const target = await openTarget(options.target, context.env);
		const {record, recordKey} = await verifyBackup({
			target,
			id: args[0],
			drill: options.drill,
			database: options.drill ? resolveDatabaseConfig(options.databaseUrl, context.env) : undefined,
			onEvent: context.onEvent,
			signal: context.signal,
		});
		// Every problem message already names its artifact.
		const human: OutputBlock[] = record.problems.map(problem => text(`✖ ${problem.message}`, 'error'));
		if (record.counts?.postgres) {
			human.push(text(`drill: PostgreSQL restored ${Object.keys(record.counts.postgres).length} table(s) with the manifest's row counts`, record.ok ? 'success' : 'muted'));
		}

		if (record.counts?.redis) {
			const keys = Object.values(record.counts.redis).reduce((sum, count) => sum + count, 0);
			human.push(text(`drill: Redis restored ${keys} key(s) into a scratch server`, record.ok ? 'success' : 'muted'));
		}

		human.push(
			record.ok
				? text(`✔ backup ${record.backupId} verified${record.drill ? ' with a restore drill' : ''}`, 'success')
				: text(`${record.problems.length} problem(s) in backup ${record.backupId}`, 'error'),
		);
		if (recordKey) {
			human.push(text(`recorded in ${target.display}/${recordKey}`, 'muted'));
		}

		return {exitCode: record.ok ? 0 : 3, json: {...record, recordKey}, human};
	},
});
