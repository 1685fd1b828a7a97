import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {optionMeta} from '../option-meta.js';
import {table, text, type OutputBlock} from '../output-blocks.js';
import {openTarget, targetOption} from './backup-shared.js';

export const backupPrune = defineCommand({
	path: ['backup', 'prune'],
	description: 'Delete old backups: keep the newest N and/or those younger than D days, and always the newest verified one',
	options: z.object({
		...globalOptions,
		target: targetOption,
		keepLast: z.number().int().min(1).optional().describe(optionMeta({description: 'Keep the newest N backups', valueDescription: 'n'})),
		keepDays: z.number().positive().optional().describe(optionMeta({description: 'Keep backups younger than D days', valueDescription: 'days'})),
		dryRun: z.boolean().default(false).describe(optionMeta({description: 'Show what would be deleted; delete nothing'})),
	}),
	async run({options}, context) {
		const [{pruneBackups}, {ActionableError}] = await Promise.all([import('../../core/backup/backup-catalogue.js'), import('../../core/errors.js')]);
		if (options.keepLast === undefined && options.keepDays === undefined) {
			throw new ActionableError('E_BAD_ARGUMENT', 'prune needs a rule: --keep-last N and/or --keep-days D.', {
				nextStep: 'For example `msdb backup prune --keep-last 7 --dry-run` to see what would go.',
			});
		}

		const target = await openTarget(options.target, context.env);
		const result = await pruneBackups(target, {keepLast: options.keepLast, keepDays: options.keepDays, dryRun: options.dryRun});
		const human: OutputBlock[] = [
			table(
				['ID', 'ACTION', 'WHY'],
				[...result.deleted.map(id => [id, result.dryRun ? 'would delete' : 'deleted', result.reasons[id] ?? '']), ...result.kept.map(id => [id, 'keep', result.reasons[id] ?? ''])],
				[...result.deleted.map(() => 'warning' as const), ...result.kept.map(() => undefined)],
			),
			text(
				`${result.dryRun ? 'Dry run: would delete' : 'Deleted'} ${result.deleted.length} backup folder(s), kept ${result.kept.length}.`,
				result.dryRun ? 'info' : 'success',
			),
		];
		return {exitCode: 0, json: {target: target.display, ...result}, human};
	},
});
