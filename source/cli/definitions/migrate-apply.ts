import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {optionMeta} from '../option-meta.js';
import {code, table, text, type OutputBlock} from '../output-blocks.js';
import {formatVersion, migrationRunOptions, migrationSettings} from './migrate-shared.js';

export const migrateApply = defineCommand({
	path: ['migrate', 'apply'],
	description: 'Apply pending migrations, oldest first, each in its own transaction',
	options: z.object({
		...globalOptions,
		...migrationRunOptions,
		target: z
			.number()
			.int()
			.min(0)
			.optional()
			.describe(optionMeta({description: 'Apply up to and including this version', valueDescription: 'version'})),
		dryRun: z.boolean().default(false).describe(optionMeta({description: 'Print the plan and its SQL; change nothing'})),
		allowOutOfOrder: z
			.boolean()
			.default(false)
			.describe(optionMeta({description: 'Apply pending versions lower than the newest applied one'})),
		singleTransaction: z
			.boolean()
			.default(false)
			.describe(optionMeta({description: 'Apply all pending files in one transaction: all of them, or none'})),
	}),
	async run({options}, context) {
		const {applyMigrations} = await import('../../core/migrations/apply.js');
		const result = await applyMigrations(await migrationSettings(options, context), {
			target: options.target,
			dryRun: options.dryRun,
			allowOutOfOrder: options.allowOutOfOrder,
			singleTransaction: options.singleTransaction,
		});
		const human: OutputBlock[] = [];
		if (result.dryRun) {
			if (result.plan.length === 0) {
				human.push(text(`Nothing to apply; the database is at version ${formatVersion(result.current)}.`, 'success'));
			} else {
				human.push(text(`Dry run: ${result.plan.length} migration(s) would be applied. Nothing was changed.`, 'info'));
				for (const step of result.plan) {
					human.push(code(step.sql, `-- ${step.file}${step.noTransaction ? ' (no transaction: statement by statement)' : ' (one transaction)'}`));
				}
			}

			return {exitCode: 0, json: {applied: [], dryRun: true, plan: result.plan}, human};
		}

		if (result.applied.length === 0) {
			human.push(text(`Nothing to apply; the database is at version ${formatVersion(result.current)}.`, 'success'));
		} else {
			human.push(table(['VERSION', 'NAME', 'TIME'], result.applied.map(row => [String(row.version), row.name, `${row.executionTimeMs} ms`])));
			human.push(text(`Applied ${result.applied.length} migration(s); now at version ${formatVersion(result.current)}.`, 'success'));
		}

		return {exitCode: 0, json: {applied: result.applied}, human};
	},
});
