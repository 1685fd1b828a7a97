import {z} from 'zod';
import type {SessionStore} from '../../core/sessions/session-store.js';
import type {CommandContext} from '../command-definition.js';
import {argumentMeta} from '../option-meta.js';

/** `<user>`: the user id the framework gave the sessions (as `create(userId, …)` received it). */
export const userArgument = z
	.string()
	.min(1, 'must not be empty')
	.max(512, 'must be at most 512 characters')
	.describe(argumentMeta({name: 'user', description: 'The user id whose sessions to act on'}));

/** A session in JSON and tables: the non-secret id and times, never a token or the data. */
export type SessionRow = {id: string; createdAt: string; idleExpiresAt: string; expiresAt: string};

/** `2026-11-24 01:39:17Z`: second precision is enough for a person reading a table. */
export function formatTime(iso: string): string {
	return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/**
 * Runs `work` against the session store of the `sessions` role (`REDIS_SESSIONS_URL`, else
 * `--redis-url`, else `REDIS_URL`) in the `MSDB_ENV` environment, and closes the connection
 * whatever happens. Loads the Redis core lazily, so listing commands costs nothing.
 */
export async function withSessionStore<T>(
	options: {redisUrl?: string | undefined},
	context: CommandContext,
	work: (store: SessionStore, where: {env: string; redis: string}) => Promise<T>,
): Promise<T> {
	const [{withRedisRole}, {RedisSessionStore}, {keyEnvironment}] = await Promise.all([
		import('../../core/redis/with-redis-role.js'),
		import('../../core/sessions/redis-session-store.js'),
		import('../../core/redis/key-names.js'),
	]);
	const env = keyEnvironment(context.env);
	return withRedisRole({redisUrl: options.redisUrl, env: context.env, role: 'sessions', purpose: 'sessions'}, async (client, endpoint) =>
		work(new RedisSessionStore(client, {env}), {env, redis: endpoint.display}),
	);
}
