import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {table, text, type OutputBlock} from '../output-blocks.js';
import {formatTime, userArgument, withSessionStore, type SessionRow} from './sessions-shared.js';

export const sessionsList = defineCommand({
	path: ['sessions', 'list'],
	description: "A user's live sessions: id, created, idle expiry, absolute expiry (never tokens or data)",
	options: z.object({...globalOptions}),
	args: z.tuple([userArgument]),
	async run({options, args}, context) {
		const [user] = args;
		return withSessionStore(options, context, async (store, {env}) => {
			const sessions: SessionRow[] = (await store.listForUser(user)).map(session => ({
				id: session.id,
				createdAt: session.createdAt.toISOString(),
				idleExpiresAt: session.idleExpiresAt.toISOString(),
				expiresAt: session.expiresAt.toISOString(),
			}));
			const human: OutputBlock[] = [];
			if (sessions.length > 0) {
				human.push(
					table(
						['ID', 'CREATED', 'IDLE EXPIRES', 'EXPIRES'],
						sessions.map(row => [row.id, formatTime(row.createdAt), formatTime(row.idleExpiresAt), formatTime(row.expiresAt)]),
					),
				);
			}

			human.push(text(sessions.length === 0 ? `No live sessions for ${user} (env ${env}).` : `${sessions.length} live session${sessions.length === 1 ? '' : 's'} for ${user} (env ${env})`));
			return {exitCode: 0, json: {env, user, sessions}, human};
		});
	},
});
