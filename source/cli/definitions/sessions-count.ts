import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {text} from '../output-blocks.js';
import {withSessionStore} from './sessions-shared.js';

export const sessionsCount = defineCommand({
	path: ['sessions', 'count'],
	description: 'How many sessions are live (SCAN on every primary; MSDB_ENV picks the environment)',
	options: z.object({...globalOptions}),
	async run({options}, context) {
		return withSessionStore(options, context, async (store, {env}) => {
			const sessions = await store.count();
			return {
				exitCode: 0,
				json: {env, sessions},
				human: [text(`${sessions} live session${sessions === 1 ? '' : 's'} (env ${env})`)],
			};
		});
	},
});
