import {ActionableError, MsdbError} from '../errors.js';
import {redact} from '../redact.js';
import type {RedisClient} from './redis-client.js';
import {resolveRedisConfig, type RedisEndpoint, type RedisRole} from './redis-config.js';
import {RedisConnections} from './redis-connections.js';

// What ioredis throws when the server is down, unreachable or too slow (the per-command deadline).
const UNREACHABLE =
	/timed out|Connection is closed|max retries per request|refresh slots cache|None of startup nodes|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN/i;

// Authentication and ACL refusals: the server answered, but not to us.
const CREDENTIALS = /^(NOAUTH|WRONGPASS|NOPERM)\b/;

/** True when an error means "the Redis server did not answer", as opposed to a refused command. */
export function isRedisUnreachable(error: unknown): boolean {
	return error instanceof Error && !(error instanceof MsdbError) && (UNREACHABLE.test(error.message) || UNREACHABLE.test(error.name));
}

/**
 * Runs `work` with the client of one role (its `REDIS_<ROLE>_URL`, else `--redis-url`, else
 * `REDIS_URL`) and closes the connection whatever happens. A server that does not answer becomes
 * E_REDIS_UNAVAILABLE naming the (redacted) server and the settings to check, instead of an
 * ioredis timeout message: what one-shot commands such as `msdb sessions` and `msdb cache stats`
 * need.
 */
export async function withRedisRole<T>(
	input: {redisUrl?: string | undefined; env: NodeJS.ProcessEnv; role: RedisRole; purpose: string},
	work: (client: RedisClient, endpoint: RedisEndpoint) => Promise<T>,
): Promise<T> {
	const config = resolveRedisConfig({redisUrl: input.redisUrl}, input.env);
	const endpoint = config.endpoints[input.role];
	const connections = new RedisConnections(config);
	try {
		return await work(connections.client(input.role), endpoint);
	} catch (error) {
		if (error instanceof Error && CREDENTIALS.test(error.message)) {
			throw new ActionableError('E_REDIS_UNAVAILABLE', redact(`Redis for ${input.purpose} at ${endpoint.display} (${endpoint.source}) refused the credentials: ${error.message}`), {
				nextStep: `Check the user name and password in REDIS_${input.role.toUpperCase()}_URL / --redis-url / REDIS_URL (percent-encode special characters in the password).`,
				cause: error,
			});
		}

		if (!isRedisUnreachable(error)) {
			throw error;
		}

		throw new ActionableError(
			'E_REDIS_UNAVAILABLE',
			redact(`Redis for ${input.purpose} at ${endpoint.display} (${endpoint.source}) did not answer: ${(error as Error).message}`),
			{
				nextStep: `Check the server is up and reachable, and REDIS_${input.role.toUpperCase()}_URL / --redis-url / REDIS_URL, then run the command again.`,
				cause: error,
			},
		);
	} finally {
		await connections.close();
	}
}
