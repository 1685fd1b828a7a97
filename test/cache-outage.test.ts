/**
 * Redis outages under load, with the connections the framework really uses (RedisConnections:
 * bounded offline queue, no replay of unanswered commands):
 *
 * - the redis-server is SIGKILLed in the middle of 10,000 reads: every read returns the right
 *   value (from L1 or the loader), none throws, p99 stays within the L2 deadline + 10 ms; after
 *   the server is restarted, the breaker is closed and L2 serves hits again;
 * - the server hangs (SIGSTOP: connections stay open, nothing answers — what a black-holed
 *   network looks like): reads keep the same bound because the deadline and the breaker cut L2
 *   off, and after SIGCONT a probe closes the breaker.
 */
import {Redis} from 'ioredis';
import {afterEach, expect, it} from 'vitest';
import {MultiLevelCache} from '../source/core/cache/multi-level-cache.js';
import {resolveRedisConfig} from '../source/core/redis/redis-config.js';
import {RedisConnections} from '../source/core/redis/redis-connections.js';
import {startRestartableRedis, type RestartableRedis} from './support/restartable-redis.js';

const DEADLINE_MS = 50;
const KEYS = 1000;
const READS = 10_000;
const CONCURRENCY = 8;

const valueOf = (key: string) => ({key, payload: `value of ${key}`});

let cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
	for (const step of cleanup.reverse()) {
		await step();
	}

	cleanup = [];
});

async function setUp(): Promise<{redis: RestartableRedis; cache: MultiLevelCache}> {
	const redis = await startRestartableRedis();
	cleanup.push(async () => redis.stop());
	const connections = new RedisConnections(resolveRedisConfig({redisUrl: redis.url}, {}), {maxReconnectDelayMs: 200, connectTimeoutMs: 500});
	cleanup.push(async () => connections.close());
	const cache = new MultiLevelCache({
		redis: connections.client('cache'),
		subscriber: connections.subscriber('cache'),
		namespace: 'outage',
		env: 'test',
		// Small L1, so most reads need L2 and the outage is felt.
		l1: {maxEntries: 100},
		l2: {deadlineMs: DEADLINE_MS, breaker: {openMs: 200, maxOpenMs: 1000}},
		stats: {publishIntervalMs: 0},
	});
	cleanup.push(async () => cache.close());
	await connections.client('cache').ping();
	await cache.ready();
	// Warm L2 with every key, then wait until the background backfills have landed.
	for (let index = 0; index < KEYS; index++) {
		const key = `item:${index}`;
		await cache.getOrLoad(key, () => valueOf(key));
	}

	await expect
		.poll(
			async () => {
				await cache.get(`item:${Math.floor(Math.random() * KEYS)}`);
				return cache.stats().l2.hits;
			},
			{timeout: 5000, interval: 5},
		)
		.toBeGreaterThan(0);
	return {redis, cache};
}

/** Runs READS reads on CONCURRENCY workers; `during(readsDone)` is called as they go. */
async function readUnderLoad(cache: MultiLevelCache, during: (readsDone: number) => void): Promise<{latencies: number[]; wrong: number; thrown: unknown[]}> {
	const latencies: number[] = [];
	const thrown: unknown[] = [];
	let wrong = 0;
	let issued = 0;
	await Promise.all(
		Array.from({length: CONCURRENCY}, async () => {
			while (issued < READS) {
				const index = issued++;
				during(index);
				// A skewed key distribution, as real traffic has: some keys hot, most not.
				const key = `item:${Math.floor(KEYS * Math.random() ** 2)}`;
				const started = performance.now();
				try {
					const value = await cache.getOrLoad(key, () => valueOf(key));
					latencies.push(performance.now() - started);
					if (JSON.stringify(value) !== JSON.stringify(valueOf(key))) {
						wrong++;
					}
				} catch (error) {
					thrown.push(error);
				}
			}
		}),
	);
	return {latencies, wrong, thrown};
}

function percentile(values: number[], fraction: number): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
}

it('SIGKILL in the middle of 10k reads: right values, nothing thrown, p99 within the deadline + 10 ms; L2 serves again after a restart', async () => {
	const {redis, cache} = await setUp();
	let killed: Promise<void> | undefined;
	const result = await readUnderLoad(cache, readsDone => {
		if (readsDone === 3000) {
			killed = redis.kill();
		}
	});
	await killed;
	expect(result.thrown).toEqual([]);
	expect(result.wrong).toBe(0);
	expect(result.latencies).toHaveLength(READS);
	const p99 = percentile(result.latencies, 0.99);
	process.stderr.write(`[cache outage] SIGKILL: p50 ${percentile(result.latencies, 0.5).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${Math.max(...result.latencies).toFixed(2)} ms\n`);
	expect(p99).toBeLessThanOrEqual(DEADLINE_MS + 10);
	const during = cache.stats();
	expect(during.l2.connected).toBe(false);
	process.stderr.write(`[cache outage] SIGKILL: L2 unavailable for ${during.l2.unavailable} reads, ${during.l3.loads - KEYS} loads, breaker ${during.l2.breaker.state}\n`);
	// The outage was felt by thousands of reads (L2 stopped answering) and the loader filled in.
	expect(during.l2.unavailable).toBeGreaterThan(1000);
	expect(during.l3.loads).toBeGreaterThan(KEYS);

	await redis.restart();
	// The restarted server is empty: reads refill it, and then L2 hits come back.
	const hitsBefore = during.l2.hits;
	const started = performance.now();
	let index = 0;
	while (cache.stats().l2.hits <= hitsBefore + 10) {
		expect(performance.now() - started).toBeLessThan(15_000);
		const key = `item:${index++ % KEYS}`;
		expect(await cache.getOrLoad(key, () => valueOf(key))).toEqual(valueOf(key));
		if (index % 100 === 0) {
			await new Promise(resolve => setTimeout(resolve, 10));
		}
	}

	const after = cache.stats();
	expect(after.l2.connected).toBe(true);
	expect(after.l2.breaker.state).toBe('closed');
	await expect.poll(() => cache.stats().invalidation.subscribed, {timeout: 5000}).toBe(true);
});

it('a hung server (SIGSTOP) in the middle of 10k reads: same bound; the breaker opens, and closes after SIGCONT', async () => {
	const {redis, cache} = await setUp();
	const pid = Number(/process_id:(\d+)/.exec(await infoServer(redis.url))?.[1]);
	expect(pid).toBeGreaterThan(0);
	let stopped = false;
	const result = await readUnderLoad(cache, readsDone => {
		if (readsDone === 3000) {
			process.kill(pid, 'SIGSTOP');
			stopped = true;
			setTimeout(() => process.kill(pid, 'SIGCONT'), 1500).unref();
		}
	});
	expect(stopped).toBe(true);
	expect(result.thrown).toEqual([]);
	expect(result.wrong).toBe(0);
	const p99 = percentile(result.latencies, 0.99);
	process.stderr.write(`[cache outage] SIGSTOP: p50 ${percentile(result.latencies, 0.5).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${Math.max(...result.latencies).toFixed(2)} ms\n`);
	expect(p99).toBeLessThanOrEqual(DEADLINE_MS + 10);
	// No read waited much longer than one deadline, even the ones that met the hang first.
	expect(Math.max(...result.latencies)).toBeLessThan(DEADLINE_MS * 2 + 20);
	expect(cache.stats().l2.breaker.opens).toBeGreaterThanOrEqual(1);
	expect(cache.stats().l2.failures.timeout).toBeGreaterThanOrEqual(5);

	await new Promise(resolve => setTimeout(resolve, 1600)); // past the SIGCONT
	await expect
		.poll(
			async () => {
				await cache.get(`item:${Math.floor(Math.random() * KEYS)}`);
				return cache.stats().l2.breaker.state;
			},
			{timeout: 10_000, interval: 20},
		)
		.toBe('closed');
	const hits = cache.stats().l2.hits;
	await expect
		.poll(
			async () => {
				await cache.get(`item:${Math.floor(Math.random() * KEYS)}`);
				return cache.stats().l2.hits;
			},
			{timeout: 5000, interval: 5},
		)
		.toBeGreaterThan(hits);
});

/** The server's INFO server section, through a short-lived connection of our own. */
async function infoServer(url: string): Promise<string> {
	const client = new Redis(url, {lazyConnect: true, maxRetriesPerRequest: 0});
	await client.connect();
	try {
		return await client.info('server');
	} finally {
		client.disconnect();
	}
}
