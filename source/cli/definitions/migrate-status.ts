import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {table, text, type OutputBlock} from '../output-blocks.js';
import {formatVersion, migrationSettings} from './migrate-shared.js';

export const migrateStatus = defineCommand({
	path: ['migrate', 'status'],
	description: 'Applied and pending migrations, and the current version',
	options: z.object({...globalOptions}),
	async run({options}, context) {
		const {migrationStatus} = await import('../../core/migrations/status.js');
		const status = await migrationStatus(await migrationSettings(options, context));
		const human: OutputBlock[] = [];
		const rows = [
			...status.applied.map(row => [String(row.version), row.name, row.method === 'baseline' ? 'baselined' : 'applied', row.appliedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), `${row.executionTimeMs} ms`]),
			...status.pending.map(row => [String(row.version), row.name, 'pending', '', '']),
		];
		const tones = [...status.applied.map(() => undefined), ...status.pending.map(() => 'warning' as const)];
		if (rows.length > 0) {
			human.push(table(['VERSION', 'NAME', 'STATE', 'APPLIED AT', 'TIME'], rows, tones));
		}

		human.push(
			text(
				`current version: ${formatVersion(status.current)} · ${status.applied.length} applied · ${status.pending.length} pending`,
				status.pending.length > 0 ? 'warning' : 'success',
			),
		);
		const {warnings} = status;
		for (const [versions, message] of [
			[warnings.checksumMismatches, 'changed since applied'],
			[warnings.missingFiles, 'applied but the file is missing'],
			[warnings.outOfOrder, 'pending but older than the current version'],
		] as const) {
			if (versions.length > 0) {
				human.push(text(`! ${versions.join(', ')}: ${message} — run \`msdb migrate validate\``, 'error'));
			}
		}

		return {
			exitCode: 0,
			json: {
				current: status.current,
				applied: status.applied.map(({version, name, checksum, appliedAt, executionTimeMs}) => ({version, name, checksum, appliedAt, executionTimeMs})),
				pending: status.pending,
			},
			human,
		};
	},
});
