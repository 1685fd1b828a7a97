import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {argumentMeta} from '../option-meta.js';
import {text} from '../output-blocks.js';
import {migrationRunOptions, migrationSettings} from './migrate-shared.js';

export const migrateBaseline = defineCommand({
	path: ['migrate', 'baseline'],
	description: 'Mark an existing database as being at a version, without running anything',
	options: z.object({...globalOptions, ...migrationRunOptions}),
	args: z.tuple([z.number().int().min(0).describe(argumentMeta({name: 'version', description: 'The newest version the database already has'}))]),
	async run({options, args}, context) {
		const {baselineMigrations} = await import('../../core/migrations/baseline.js');
		const result = await baselineMigrations(await migrationSettings(options, context), args[0]);
		return {
			exitCode: 0,
			json: result,
			human: [text(`Recorded ${result.recorded.length} migration(s) up to version ${result.version} as applied (baseline); nothing was run.`, 'success')],
		};
	},
});
