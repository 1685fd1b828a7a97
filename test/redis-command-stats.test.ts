/**
 * RedisConnections counts every command of each role connection by outcome (ok, error, timeout)
 * with its latency, the same on a standalone server and on a cluster, and counts each command
 * once: not again when the offline queue replays it, not as `ok` when the reply to a command that
 * already timed out arrives late.
 */
import {once} from 'node:events';
import {afterAll, beforeAll, expect, it} from 'vitest';
import {masterNodes, type RedisClient} from '../source/core/redis/redis-client.js';
import type {RedisCommandStats} from '../source/core/redis/redis-command-stats.js';
import {resolveRedisConfig, type RedisRole} from '../source/core/redis/redis-config.js';
import {RedisConnections} from '../source/core/redis/redis-connections.js';
import {describeForEachRedisTarget} from './support/redis-targets.js';

function statsOf(connections: RedisConnections, role: RedisRole): RedisCommandStats {
	const stats = connections.commandStats().find(entry => entry.role === role);
	if (!stats) {
		throw new Error(`no command stats for ${role}`);
	}

	return stats;
}

/** What happened between two snapshots of one role. */
function delta(before: RedisCommandStats, after: RedisCommandStats): {ok: number; error: number; timeout: number; recorded: number} {
	return {
		ok: after.commands.ok - before.commands.ok,
		error: after.commands.error - before.commands.error,
		timeout: after.commands.timeout - before.commands.timeout,
		recorded: after.latency.count - before.latency.count,
	};
}

async function ready(client: RedisClient): Promise<void> {
	if (client.status !== 'ready') {
		await once(client, 'ready');
	}
}

describeForEachRedisTarget('Redis command stats', target => {
	let connections: RedisConnections;

	beforeAll(() => {
		// A generous deadline: only the timeout test below wants commands to time out.
		connections = new RedisConnections(resolveRedisConfig({redisUrl: target().url}, {}), {commandTimeoutMs: 10_000});
	});

	afterAll(async () => {
		await connections?.close();
	});

	it('counts ok and error replies per role, only for role connections that exist', async () => {
		expect(connections.commandStats()).toEqual([]);
		const cache = connections.client('cache');
		await cache.ping();
		// The subscriber connection is not counted; it is no role connection.
		await connections.subscriber('pubsub').subscribe('msdb-test-command-stats');
		const before = statsOf(connections, 'cache');

		await cache.set('stats:k', 'v');
		expect(await cache.get('stats:k')).toBe('v');
		await expect(cache.lpush('stats:k', 'x')).rejects.toThrow(/WRONGTYPE/);
		// A pipeline counts each of its commands once (same hash tag: one slot on a cluster).
		await cache.pipeline().set('{p}a', '1').set('{p}b', '2').get('{p}a').exec();

		const after = statsOf(connections, 'cache');
		expect(delta(before, after)).toEqual({ok: 5, error: 1, timeout: 0, recorded: 6});
		expect(after.connected).toBe(true);
		expect(after.latency.sumMs).toBeGreaterThan(before.latency.sumMs);
		expect(after.latency.buckets.at(-1)).toBe(after.latency.count);

		await connections.client('sessions').get('stats:other');
		expect(connections.commandStats().map(stats => stats.role)).toEqual(['cache', 'sessions']);
		expect(statsOf(connections, 'sessions').commands).toMatchObject({error: 0, timeout: 0});
		// Other roles' traffic does not show up in the cache's counters.
		expect(delta(after, statsOf(connections, 'cache'))).toEqual({ok: 0, error: 0, timeout: 0, recorded: 0});
		await connections.subscriber('pubsub').unsubscribe('msdb-test-command-stats');
	});

	it('counts a command replayed from the offline queue once', async () => {
		// Two fresh connections, one command each: sent before the connection is ready (parked
		// in the offline queue, sent again on connect) or after. Each counts once; the handshake
		// (CLIENT SETNAME, SETINFO, INFO; CLUSTER INFO) is not counted.
		const queued = new RedisConnections(resolveRedisConfig({redisUrl: target().url}, {}), {commandTimeoutMs: 10_000});
		const direct = new RedisConnections(resolveRedisConfig({redisUrl: target().url}, {}), {commandTimeoutMs: 10_000});
		try {
			const queuedClient = queued.client('queues');
			expect(queuedClient.status).not.toBe('ready');
			await queuedClient.get('stats:queued');
			const directClient = direct.client('queues');
			await ready(directClient);
			await directClient.get('stats:queued');
			for (const stats of [statsOf(queued, 'queues'), statsOf(direct, 'queues')]) {
				expect(stats.commands).toEqual({ok: 1, error: 0, timeout: 0});
				expect(stats.latency.count).toBe(1);
			}
		} finally {
			await Promise.all([queued.close(), direct.close()]);
		}
	});

	it('counts a command past its deadline as a timeout, and not as ok when its reply comes late', async () => {
		const short = new RedisConnections(resolveRedisConfig({redisUrl: target().url}, {}), {commandTimeoutMs: 150});
		const admin = target().connect();
		try {
			const client = short.client('queues');
			await client.ping();
			await admin.ping();
			const before = statsOf(short, 'queues');
			// Every primary holds all client commands for a while: the command is sent, then waits
			// for its reply past the deadline. (DEBUG SLEEP is not enabled on the test servers.)
			const primaries = masterNodes(admin);
			await Promise.all(primaries.map(async node => node.call('CLIENT', 'PAUSE', '1000', 'ALL')));
			await expect(client.get('stats:paused')).rejects.toThrow('Command timed out');
			expect(delta(before, statsOf(short, 'queues'))).toMatchObject({ok: 0, error: 0, timeout: 1});

			// Wait out the pause, then send a command after the late reply on the same connection
			// (same key, same node): once it is answered, the late reply has been read too.
			await Promise.all(primaries.map(async node => node.ping()));
			expect(await client.get('stats:paused')).toBeNull();
			expect(delta(before, statsOf(short, 'queues'))).toEqual({ok: 1, error: 0, timeout: 1, recorded: 2});
		} finally {
			admin.disconnect();
			await short.close();
		}
	});
});
