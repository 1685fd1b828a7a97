import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {code, text, type OutputBlock} from '../output-blocks.js';
import {migrationSettings} from './migrate-shared.js';

export const migrateValidate = defineCommand({
	path: ['migrate', 'validate'],
	description: 'Check files and ledger: checksums (with a diff), missing, duplicate or bad files, missing rollbacks',
	options: z.object({...globalOptions}),
	async run({options}, context) {
		const {validateMigrations} = await import('../../core/migrations/validate.js');
		const result = await validateMigrations(await migrationSettings(options, context));
		const human: OutputBlock[] = [];
		for (const problem of result.problems) {
			const where = problem.file ? `${problem.file}${problem.line === undefined ? '' : `:${problem.line}`}` : `version ${problem.version}`;
			human.push(text(`✖ ${problem.kind}  ${where}: ${problem.message}`, 'error'));
			if (problem.diff) {
				human.push(code(problem.diff));
			}
		}

		human.push(
			result.ok
				? text('✔ migrations are valid: files, checksums and rollbacks all check out', 'success')
				: text(`${result.problems.length} problem(s) found`, 'error'),
		);
		return {exitCode: result.ok ? 0 : 3, json: result, human};
	},
});
