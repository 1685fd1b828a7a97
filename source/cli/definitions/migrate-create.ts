import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {argumentMeta} from '../option-meta.js';
import {text} from '../output-blocks.js';

export const migrateCreate = defineCommand({
	path: ['migrate', 'create'],
	description: 'Create a new migration and its rollback with the next version',
	options: z.object({...globalOptions}),
	args: z.tuple([z.string().describe(argumentMeta({name: 'name', description: 'Lower-case name, e.g. add_users_email'}))]),
	async run({options, args}) {
		const {createMigration} = await import('../../core/migrations/create.js');
		const result = await createMigration(options, args[0]);
		return {
			exitCode: 0,
			json: result,
			human: [text(`Created ${result.migrationFile} and ${result.rollbackFile} (version ${result.version}).`, 'success')],
		};
	},
});
