import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {optionMeta} from '../option-meta.js';
import {code, table, text, type OutputBlock} from '../output-blocks.js';
import {formatVersion, migrationRunOptions, migrationSettings} from './migrate-shared.js';

export const migrateRollback = defineCommand({
	path: ['migrate', 'rollback'],
	description: 'Roll back applied migrations, newest first (default: the newest one)',
	options: z.object({
		...globalOptions,
		...migrationRunOptions,
		to: z
			.number()
			.int()
			.min(0)
			.optional()
			.describe(optionMeta({description: 'Roll back every migration above this version (0: all)', valueDescription: 'version'})),
		steps: z
			.number()
			.int()
			.min(1)
			.optional()
			.describe(optionMeta({description: 'Roll back the newest N migrations (default 1)', valueDescription: 'n'})),
		dryRun: z.boolean().default(false).describe(optionMeta({description: 'Print the plan and its SQL; change nothing'})),
	}),
	async run({options}, context) {
		const {rollbackMigrations} = await import('../../core/migrations/rollback.js');
		const result = await rollbackMigrations(await migrationSettings(options, context), {
			to: options.to,
			steps: options.steps,
			dryRun: options.dryRun,
		});
		const human: OutputBlock[] = [];
		if (result.dryRun) {
			if (result.plan.length === 0) {
				human.push(text('Nothing to roll back.', 'success'));
			} else {
				human.push(text(`Dry run: ${result.plan.length} migration(s) would be rolled back, newest first. Nothing was changed.`, 'info'));
				for (const step of result.plan) {
					human.push(code(step.sql, `-- rollback of ${step.version}_${step.name} (stored at apply time)`));
				}
			}

			return {exitCode: 0, json: {rolledBack: [], dryRun: true, plan: result.plan}, human};
		}

		if (result.rolledBack.length === 0) {
			human.push(text(`Nothing to roll back; the database is at version ${formatVersion(result.current)}.`, 'success'));
		} else {
			human.push(table(['VERSION', 'NAME', 'TIME'], result.rolledBack.map(row => [String(row.version), row.name, `${row.executionTimeMs} ms`])));
			human.push(text(`Rolled back ${result.rolledBack.length} migration(s); now at version ${formatVersion(result.current)}.`, 'success'));
		}

		return {exitCode: 0, json: {rolledBack: result.rolledBack.map(({version, name}) => ({version, name}))}, human};
	},
});
