/**
 * A dead or hung Redis must not make callers wait: every command ends within its deadline, the
 * offline queue refuses excess commands at once, and the connection comes back by itself.
 * Real servers only: a private redis-server is SIGKILLed and restarted on the same port.
 */
import getPort from 'get-port';
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import type {Redis} from 'ioredis';
import {RedisConnections} from '../source/core/redis/redis-connections.js';
import {resolveRedisConfig} from '../source/core/redis/redis-config.js';
import {startRestartableRedis, type RestartableRedis} from './support/restartable-redis.js';

const COMMAND_TIMEOUT_MS = 300;
// Timers, the event loop and a loaded CI machine: what "within the deadline" may overshoot by.
const MARGIN_MS = 150;

type Outcome = {ok: boolean; ms: number; code?: string; message?: string};

async function timed(run: () => Promise<unknown>): Promise<Outcome> {
	const started = performance.now();
	try {
		await run();
		return {ok: true, ms: performance.now() - started};
	} catch (error) {
		const failure = error as {code?: unknown; message?: string};
		return {
			ok: false,
			ms: performance.now() - started,
			...(typeof failure.code === 'string' ? {code: failure.code} : {}),
			...(failure.message === undefined ? {} : {message: failure.message}),
		};
	}
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		try {
			if (await check()) {
				return;
			}
		} catch {
			// Not yet.
		}

		if (Date.now() > deadline) {
			throw new Error(`timed out waiting for ${what}`);
		}

		await new Promise(resolve => setTimeout(resolve, 10));
	}
}

/**
 * Kills the server and waits until the client is between two reconnect attempts at least
 * `minDelayMs` apart: each failed attempt fails the queued commands, so assertions about what
 * waits in the queue need a quiet window.
 */
async function killAndWaitForReconnectPause(redis: RestartableRedis, client: Redis, minDelayMs: number): Promise<void> {
	let lastDelay = 0;
	const onReconnecting = (delay: number) => {
		lastDelay = delay;
	};

	client.on('reconnecting', onReconnecting);
	try {
		await redis.kill();
		await waitUntil(`a reconnect delay of at least ${minDelayMs} ms`, () => lastDelay >= minDelayMs && client.status === 'reconnecting');
	} finally {
		client.off('reconnecting', onReconnecting);
	}
}

function connectionsFor(url: string, options: ConstructorParameters<typeof RedisConnections>[1] = {}): RedisConnections {
	return new RedisConnections(resolveRedisConfig({redisUrl: url}, {}), {commandTimeoutMs: COMMAND_TIMEOUT_MS, ...options});
}

describe('a Redis that dies', () => {
	let redis: RestartableRedis;
	let connections: RedisConnections | undefined;

	beforeAll(async () => {
		redis = await startRestartableRedis();
	});

	afterEach(async () => {
		await connections?.close();
		connections = undefined;
		// Leave the server running for the next test.
		await redis.restart();
	});

	afterAll(async () => {
		await redis?.stop();
	});

	it('fails commands within commandTimeout instead of hanging, then reconnects by itself after restart()', async () => {
		connections = connectionsFor(redis.url, {maxReconnectDelayMs: 400});
		const client = connections.client('cache') as Redis;
		await client.set('before', '1');

		await redis.kill();
		// Commands in flight when the server dies, issued while it is down, and issued later
		// while ioredis keeps reconnecting: none may outlive its deadline.
		const outcomes: Outcome[] = [];
		const endAt = Date.now() + 1500;
		while (Date.now() < endAt) {
			outcomes.push(...(await Promise.all([timed(async () => client.get('before')), timed(async () => client.set('during', '1'))])));
		}

		expect(outcomes.length).toBeGreaterThan(4);
		for (const outcome of outcomes) {
			expect(outcome.ok).toBe(false);
			expect(outcome.ms).toBeLessThan(COMMAND_TIMEOUT_MS + MARGIN_MS);
		}

		await redis.restart();
		// No call to connect(): the client finds the server again on its own.
		await waitUntil('the client to serve again', async () => (await client.ping()) === 'PONG', 3000);
		expect(client.status).toBe('ready');
		await client.set('after', 'back');
		expect(await client.get('after')).toBe('back');
	});

	it('bounds the offline queue: beyond maxOfflineQueue, commands are refused at once with E_REDIS_UNAVAILABLE', async () => {
		const limit = 5;
		connections = connectionsFor(redis.url, {maxOfflineQueue: limit, commandTimeoutMs: 1000, maxReconnectDelayMs: 2000});
		const client = connections.client('sessions') as Redis;
		await client.ping();
		await killAndWaitForReconnectPause(redis, client, 400);

		const started = performance.now();
		const settledAt: number[] = [];
		const calls = Array.from({length: limit + 3}, async (_unused, index) =>
			timed(async () => client.get(`queued:${index}`)).then(outcome => {
				settledAt[index] = performance.now() - started;
				return outcome;
			}),
		);
		// Give the refused ones a moment to settle; the admitted ones are still waiting.
		await new Promise(resolve => setTimeout(resolve, 20));
		const refusedEarly = settledAt.filter(ms => ms !== undefined).length;
		expect(refusedEarly).toBe(3);
		expect(connections.offlineQueue('sessions')).toMatchObject({waiting: limit, refused: 3});

		const outcomes = await Promise.all(calls);
		const refused = outcomes.filter(outcome => outcome.code === 'E_REDIS_UNAVAILABLE');
		expect(refused).toHaveLength(3);
		for (const outcome of refused) {
			expect(outcome.ms).toBeLessThan(20);
			expect(outcome.message).toMatch(/not connected .* 5 command\(s\) are already waiting/);
		}

		// The admitted five failed too (the server is still down), but only at their deadline or
		// at the next failed reconnect attempt, never later.
		const admitted = outcomes.filter(outcome => outcome.code !== 'E_REDIS_UNAVAILABLE');
		expect(admitted).toHaveLength(limit);
		for (const outcome of admitted) {
			expect(outcome.ok).toBe(false);
			expect(outcome.ms).toBeLessThan(1000 + MARGIN_MS);
		}

		expect(connections.offlineQueue('sessions')?.waiting).toBe(0);
	});

	it('refuses or admits a pipeline whole', async () => {
		const limit = 3;
		connections = connectionsFor(redis.url, {maxOfflineQueue: limit, commandTimeoutMs: 800, maxReconnectDelayMs: 2000});
		const client = connections.client('cache') as Redis;
		await client.ping();
		await killAndWaitForReconnectPause(redis, client, 400);

		// Fill the queue, then a pipeline finds it full: all of it is refused, none half-sent.
		const fillers = Array.from({length: limit}, async (_unused, index) => timed(async () => client.get(`filler:${index}`)));
		const started = performance.now();
		const results = await client.pipeline().set('p:1', '1').set('p:2', '2').get('p:1').exec();
		expect(performance.now() - started).toBeLessThan(20);
		expect(results).toHaveLength(3);
		for (const [error] of results ?? []) {
			expect((error as {code?: string} | null)?.code).toBe('E_REDIS_UNAVAILABLE');
		}

		await Promise.all(fillers);
	});

	it('never runs a command that timed out while queued once the connection is back', async () => {
		connections = connectionsFor(redis.url, {commandTimeoutMs: 100, maxReconnectDelayMs: 3000});
		const client = connections.client('cache') as Redis;
		await client.del('stale');
		// A long pause between reconnect attempts keeps the write below in ioredis' queue (timed
		// out, not yet flushed by a failed attempt) until the server is back.
		await killAndWaitForReconnectPause(redis, client, 700);

		const write = await timed(async () => client.set('stale', 'written-after-timeout'));
		expect(write.ok).toBe(false);
		expect(write.message).toMatch(/timed out/i);
		await redis.restart();
		await waitUntil('the client to serve again', async () => (await client.ping()) === 'PONG', 5000);
		expect(await client.get('stale')).toBeNull();
	});

	it('gives blocking commands their block time on top of the deadline', async () => {
		connections = connectionsFor(redis.url);
		const client = connections.client('queues');
		const outcome = await timed(async () => client.blpop('empty-list', 1));
		// BLPOP … 1 waits 1 s on the server and answers null; a plain 300 ms deadline would have cut it off.
		expect(outcome).toMatchObject({ok: true});
		expect(outcome.ms).toBeGreaterThan(900);
	});
});

describe('a Redis that hangs', () => {
	let redis: RestartableRedis;

	beforeAll(async () => {
		redis = await startRestartableRedis();
	});

	afterAll(async () => {
		await redis?.stop();
	});

	it('times out commands on a connection that is open but gets no answer', async () => {
		const connections = connectionsFor(redis.url);
		try {
			const client = connections.client('cache');
			const blocker = connections.client('queues');
			await Promise.all([client.ping(), blocker.ping()]);
			// A Lua busy loop blocks the whole server for ~1 s, like a slow command or a stalled host.
			const busy = blocker
				.eval("local t = redis.call('TIME'); local deadline = t[1] * 1000000 + t[2] + 1000000; repeat local n = redis.call('TIME') until n[1] * 1000000 + n[2] >= deadline; return 1", 0)
				.catch(() => 'timed out');
			await new Promise(resolve => setTimeout(resolve, 50));
			const outcome = await timed(async () => client.get('anything'));
			expect(outcome).toMatchObject({ok: false, message: 'Command timed out'});
			expect(outcome.ms).toBeGreaterThan(COMMAND_TIMEOUT_MS - 20);
			expect(outcome.ms).toBeLessThan(COMMAND_TIMEOUT_MS + MARGIN_MS);
			await busy;
		} finally {
			await connections.close();
		}
	});
});

describe('a Redis Cluster that cannot be reached', () => {
	it('fails commands within the deadline and bounds the queue, although ioredis itself would wait for the cluster', async () => {
		const deadPort = await getPort();
		const connections = new RedisConnections(resolveRedisConfig({}, {REDIS_CACHE_URL: `redis+cluster://:cl-secret@127.0.0.1:${deadPort}`}), {
			commandTimeoutMs: COMMAND_TIMEOUT_MS,
			maxOfflineQueue: 4,
		});
		try {
			const client = connections.client('cache');
			const outcomes = await Promise.all(Array.from({length: 6}, async (_unused, index) => timed(async () => client.get(`k${index}`))));
			expect(outcomes.filter(outcome => outcome.code === 'E_REDIS_UNAVAILABLE')).toHaveLength(2);
			for (const outcome of outcomes) {
				expect(outcome.ok).toBe(false);
				expect(outcome.ms).toBeLessThan(COMMAND_TIMEOUT_MS + MARGIN_MS);
				expect(outcome.message).not.toContain('cl-secret');
			}
		} finally {
			await connections.close();
		}
	});
});
