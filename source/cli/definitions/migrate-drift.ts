import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {text, type OutputBlock} from '../output-blocks.js';
import {migrationSettings} from './migrate-shared.js';

export const migrateDrift = defineCommand({
	path: ['migrate', 'drift'],
	description: 'Compare the live catalog with the snapshot taken after the last migration',
	options: z.object({...globalOptions}),
	async run({options}, context) {
		const {detectDrift} = await import('../../core/migrations/drift.js');
		const result = await detectDrift(await migrationSettings(options, context));
		const human: OutputBlock[] = [];
		if (!result.snapshot) {
			human.push(text('No snapshot to compare with: msdb has not migrated this database yet.', 'muted'));
		} else {
			const when = `the snapshot taken ${result.snapshot.takenAt} (${result.snapshot.kind}${result.snapshot.version === null ? '' : `, version ${result.snapshot.version}`})`;
			for (const problem of result.problems) {
				human.push(text(`✖ ${problem.message}`, 'error'));
			}

			human.push(
				result.ok
					? text(`✔ no drift: the live schema matches ${when}`, 'success')
					: text(`${result.problems.length} difference(s) from ${when}`, 'error'),
			);
		}

		return {exitCode: result.ok ? 0 : 3, json: {ok: result.ok, problems: result.problems, snapshot: result.snapshot}, human};
	},
});
