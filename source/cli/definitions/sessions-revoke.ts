import {z} from 'zod';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {optionMeta} from '../option-meta.js';
import {text} from '../output-blocks.js';
import {userArgument, withSessionStore} from './sessions-shared.js';

const SESSION_ID = /^[0-9a-f]{16}$/;

export const sessionsRevoke = defineCommand({
	path: ['sessions', 'revoke'],
	description: "End all of a user's sessions (log out everywhere), or one with --session",
	options: z.object({
		...globalOptions,
		// Checked in run(), not by a zod regex: the parser quotes refused values back, and the
		// likeliest wrong value here is a session token pasted from a cookie.
		session: z
			.string()
			.optional()
			.describe(optionMeta({description: 'Revoke only this session (its id from `msdb sessions list`)', valueDescription: 'id'})),
	}),
	args: z.tuple([userArgument]),
	async run({options, args}, context) {
		const [user] = args;
		if (options.session !== undefined && !SESSION_ID.test(options.session)) {
			const {ActionableError} = await import('../../core/errors.js');
			const looksLikeToken = /^[A-Za-z0-9_-]{43}$/.test(options.session);
			throw new ActionableError(
				'E_BAD_ARGUMENT',
				looksLikeToken
					? '--session must be a session id, and this looks like a session token (not repeated here). Tokens are secrets: do not paste them into commands or tickets.'
					: '--session must be a session id: 16 hex characters, as `msdb sessions list <user>` shows.',
				{nextStep: `Run \`msdb sessions list ${user}\` and copy the ID column.`, details: {option: '--session'}},
			);
		}

		return withSessionStore(options, context, async (store, {env}) => {
			let revoked: string[];
			if (options.session === undefined) {
				revoked = await store.destroyAllForUser(user);
			} else if (await store.destroyById(user, options.session)) {
				revoked = [options.session];
			} else {
				const {ActionableError} = await import('../../core/errors.js');
				throw new ActionableError('E_SESSION_NOT_FOUND', `${user} has no live session ${options.session} (env ${env}).`, {
					nextStep: `Run \`msdb sessions list ${user}\` to see the user's live sessions; it may have ended already.`,
					details: {env, user, session: options.session},
				});
			}

			return {
				exitCode: 0,
				json: {env, user, revoked},
				human: [
					text(
						revoked.length === 0
							? `${user} had no live sessions (env ${env}).`
							: `Revoked ${revoked.length} session${revoked.length === 1 ? '' : 's'} of ${user} (env ${env}): ${revoked.join(', ')}`,
						revoked.length === 0 ? undefined : 'success',
					),
				],
			};
		});
	},
});
