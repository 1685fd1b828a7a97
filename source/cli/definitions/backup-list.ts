import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {table, text, type OutputBlock} from '../output-blocks.js';
import {formatBytes} from '../progress-lines.js';
import {formatAge, openTarget, targetOption} from './backup-shared.js';

export const backupList = defineCommand({
	path: ['backup', 'list'],
	description: 'Backups in the target, newest first: id, age, size, components, last verification',
	options: z.object({...globalOptions, target: targetOption}),
	async run({options}, context) {
		const {listBackups} = await import('../../core/backup/backup-catalogue.js');
		const target = await openTarget(options.target, context.env);
		const catalogue = await listBackups(target);
		const backups = catalogue.backups.map(({manifest: _manifest, ...backup}) => backup);
		const human: OutputBlock[] = [];
		if (backups.length === 0) {
			human.push(text(`No backups in ${target.display}.`, 'muted'));
		} else {
			human.push(
				table(
					['ID', 'AGE', 'SIZE', 'COMPONENTS', 'LAST VERIFIED'],
					backups.map(backup => [
						backup.id,
						formatAge(backup.ageMs),
						formatBytes(backup.bytes),
						backup.components.join('+'),
						backup.lastVerification
							? `${backup.lastVerification.ok ? 'ok' : 'FAILED'}${backup.lastVerification.drill ? ' (drill)' : ''} ${backup.lastVerification.verifiedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}`
							: 'never',
					]),
					backups.map(backup => (backup.lastVerification && !backup.lastVerification.ok ? 'error' : undefined)),
				),
			);
		}

		for (const folder of catalogue.incomplete) {
			human.push(text(`! ${folder.id}: no manifest (a run in progress, or one that failed) — not a backup`, 'warning'));
		}

		for (const problem of catalogue.problems) {
			human.push(text(`✖ ${problem.id}: ${problem.message}`, 'error'));
		}

		return {exitCode: 0, json: {target: target.display, backups, incomplete: catalogue.incomplete, problems: catalogue.problems}, human};
	},
});
