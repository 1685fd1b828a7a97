import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {optionMeta} from '../option-meta.js';
import {code, text, type OutputBlock} from '../output-blocks.js';
import {migrationRunOptions, migrationSettings} from './migrate-shared.js';

export const migrateReset = defineCommand({
	path: ['migrate', 'reset'],
	description: 'Drop everything the migrations created, and the ledger (needs --confirm <database-name>)',
	options: z.object({
		...globalOptions,
		...migrationRunOptions,
		confirm: z.string().optional().describe(optionMeta({description: 'The database name, typed in full', valueDescription: 'database-name'})),
		allowProduction: z.boolean().default(false).describe(optionMeta({description: 'Allow a reset when MSDB_ENV=production'})),
		dryRun: z.boolean().default(false).describe(optionMeta({description: 'List what would be dropped; change nothing'})),
	}),
	async run({options}, context) {
		const {resetDatabase} = await import('../../core/migrations/reset.js');
		const result = await resetDatabase(await migrationSettings(options, context), {
			confirm: options.confirm,
			allowProduction: options.allowProduction,
			dryRun: options.dryRun,
			environment: context.env.MSDB_ENV,
		});
		const human: OutputBlock[] = [];
		if (result.dropped.length === 0 && result.statements.length === 0) {
			human.push(text(`Nothing to reset in "${result.database}": msdb has not migrated it.`, 'success'));
		} else {
			human.push(text(`${result.dryRun ? 'Would drop' : 'Dropped'} in "${result.database}":`, result.dryRun ? 'info' : 'success'));
			human.push(code(result.dropped.join('\n') || '(no schema objects; only the ledger)'));
			human.push(text(result.dryRun ? 'Dry run: nothing was changed.' : 'The ledger and snapshots are gone; the history table keeps a record of this reset.', result.dryRun ? 'info' : 'success'));
		}

		for (const warning of result.warnings) {
			human.push(text(`! ${warning}`, 'warning'));
		}

		if (result.keptBaselined.length > 0) {
			human.push(
				text(
					`Objects that existed when the database was baselined (versions ${result.keptBaselined.join(', ')}) were kept; run \`msdb migrate baseline ${Math.max(...result.keptBaselined)}\` before applying again.`,
					'warning',
				),
			);
		}

		return {exitCode: 0, json: result, human};
	},
});
