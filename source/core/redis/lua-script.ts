import {createHash} from 'node:crypto';
import type {RedisClient} from './redis-client.js';

/**
 * A Lua script run with EVALSHA, falling back to EVAL when the server does not have it cached
 * (first use, a restart, a failover, a new cluster node); EVAL caches it for the next call.
 *
 * Written here instead of using ioredis `defineCommand` because that adds methods to the client
 * object, which a role's client shares with other features; this keeps the client untouched
 * and works the same on `Redis` and `Cluster` (ioredis routes EVALSHA by its first key).
 */
export class LuaScript {
	readonly sha: string;

	constructor(
		/** For error messages and MONITOR readers. */
		readonly name: string,
		readonly source: string,
	) {
		this.sha = createHash('sha1').update(source, 'utf8').digest('hex');
	}

	/** Runs the script; on a cluster every key must hash to one slot (the callers guarantee it). */
	async run(client: RedisClient, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
		try {
			return await client.evalsha(this.sha, keys.length, ...keys, ...args);
		} catch (error) {
			if (!isNoScript(error)) {
				throw error;
			}

			return client.eval(this.source, keys.length, ...keys, ...args);
		}
	}
}

function isNoScript(error: unknown): boolean {
	return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
