import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {argumentMeta} from '../option-meta.js';
import {text} from '../output-blocks.js';
import {migrationRunOptions, migrationSettings} from './migrate-shared.js';

export const migrateAccept = defineCommand({
	path: ['migrate', 'accept'],
	description: "Record an applied file's new content (checksum and rollback) without running it",
	options: z.object({...globalOptions, ...migrationRunOptions}),
	args: z.tuple([z.number().int().min(0).describe(argumentMeta({name: 'version', description: 'The applied version whose file changed'}))]),
	async run({options, args}, context) {
		const {acceptMigration} = await import('../../core/migrations/accept.js');
		const result = await acceptMigration(await migrationSettings(options, context), args[0]);
		return {
			exitCode: 0,
			json: result,
			human: [
				text(
					`Accepted ${result.version}_${result.name}: checksum ${result.previousChecksum.slice(0, 12)}… → ${result.checksum.slice(0, 12)}…${result.rollbackUpdated ? ', rollback updated' : ''}. Recorded in the history.`,
					'success',
				),
			],
		};
	},
});
