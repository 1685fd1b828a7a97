/**
 * Fleet heartbeats (issue acceptance): processes publishing heartbeats appear in readFleet(); one
 * that dies disappears after its TTL while the others stay; a clean stop() disappears at once; the
 * totals add up; snapshots the reader cannot read are skipped; a publisher rides out a Redis
 * outage without throwing or piling up commands, and publishes again once Redis is back.
 *
 * The acceptance runs two real processes (test/fixtures/fleet-heartbeat-child.mjs) on the core
 * compiled for them into node_modules/.cache (type-checking is the lint step's job, so this is a
 * quick emit of just the files they need, independent of build/).
 */
import {spawn, type ChildProcessWithoutNullStreams} from 'node:child_process';
import {EventEmitter, once} from 'node:events';
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {hostname} from 'node:os';
import path from 'node:path';
import {createInterface} from 'node:readline';
import {fileURLToPath} from 'node:url';
import {execa} from 'execa';
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest';
import {MultiLevelCache} from '../source/core/cache/multi-level-cache.js';
import {FleetKeyspace} from '../source/core/fleet/fleet-keyspace.js';
import {readFleet} from '../source/core/fleet/fleet-reader.js';
import {HeartbeatPublisher} from '../source/core/fleet/heartbeat-publisher.js';
import {cacheHeartbeatOf, poolHeartbeatsOf} from '../source/core/fleet/heartbeat-snapshot-of.js';
import type {CacheHeartbeat, HeartbeatSnapshot, PoolHeartbeat, RedisRoleHeartbeat} from '../source/core/fleet/heartbeat-snapshot.js';
import {LatencyHistogram} from '../source/core/metrics/latency-histogram.js';
import type {PoolsStats, PoolStats} from '../source/core/pools/pool-stats.js';
import {createRedisClient} from '../source/core/redis/create-redis-client.js';
import type {RedisClient} from '../source/core/redis/redis-client.js';
import {parseRedisUrl, resolveRedisConfig} from '../source/core/redis/redis-config.js';
import {RedisConnections} from '../source/core/redis/redis-connections.js';
import {describeForEachRedisTarget} from './support/redis-targets.js';
import {startRestartableRedis, type RestartableRedis} from './support/restartable-redis.js';
import {useTestRedis} from './support/test-redis.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = path.join(REPO, 'test', 'fixtures', 'fleet-heartbeat-child.mjs');
const ENV = 'fleettest';
// The process that gets killed publishes every 200 ms, so it is gone 600 ms after its last
// publish; the one that must stay publishes every 2 s, so a busy machine that delays it a little
// cannot make it drop out while the test waits for the other to go.
const SHORT_INTERVAL_MS = 200;
const LONG_INTERVAL_MS = 2000;

function connect(url: string): RedisClient {
	const client = createRedisClient(parseRedisUrl(url, 'default'), {connectionName: 'msdb:test', commandTimeoutMs: 10_000, connectTimeoutMs: 10_000}).client;
	client.on('error', () => {});
	return client;
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await check())) {
		if (Date.now() > deadline) {
			throw new Error(`timed out waiting for ${what}`);
		}

		await new Promise(resolve => setTimeout(resolve, 20));
	}
}

/** Emits only what the children need, quickly (no type-check), into a fresh directory. */
async function compileCoreForChildren(): Promise<string> {
	const cache = path.join(REPO, 'node_modules', '.cache');
	await mkdir(cache, {recursive: true});
	// Inside the repository, so the children resolve ioredis and zod from its node_modules.
	const outDir = await mkdtemp(path.join(cache, 'msdb-fleet-test-'));
	const tsconfig = path.join(outDir, 'tsconfig.json');
	const entries = ['redis/redis-connections.ts', 'redis/redis-config.ts', 'cache/multi-level-cache.ts', 'fleet/heartbeat-publisher.ts', 'metrics/latency-histogram.ts'];
	await writeFile(
		tsconfig,
		JSON.stringify({
			extends: path.join(REPO, 'tsconfig.build.json'),
			compilerOptions: {outDir, rootDir: path.join(REPO, 'source'), noCheck: true, sourceMap: false, declaration: false},
			files: entries.map(entry => path.join(REPO, 'source', 'core', entry)),
			include: [],
		}),
	);
	await execa(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsconfig]);
	return outDir;
}

type ChildEvent = {event: string; instanceId?: string};

/** A publishing process started from the fixture. */
class ChildPublisher {
	readonly child: ChildProcessWithoutNullStreams;
	readonly exited: Promise<unknown>;
	instanceId = '';
	#events: ChildEvent[] = [];
	#emitter = new EventEmitter();
	#stderr = '';

	constructor(modules: string, redisUrl: string, service: string, poolTotal: number, intervalMs: number) {
		this.child = spawn(process.execPath, [FIXTURE], {
			env: {
				...process.env,
				MSDB_FLEET_TEST_MODULES: modules,
				REDIS_URL: redisUrl,
				MSDB_ENV: ENV,
				SERVICE: service,
				INTERVAL_MS: String(intervalMs),
				POOL_TOTAL: String(poolTotal),
			},
		});
		this.exited = once(this.child, 'exit');
		this.child.stderr.on('data', (chunk: Buffer) => {
			this.#stderr += chunk.toString();
		});
		createInterface({input: this.child.stdout}).on('line', line => {
			this.#events.push(JSON.parse(line) as ChildEvent);
			this.#emitter.emit('event');
		});
		this.child.on('exit', () => this.#emitter.emit('event'));
	}

	async waitFor(event: string): Promise<ChildEvent> {
		for (;;) {
			const found = this.#events.find(entry => entry.event === event);
			if (found) {
				return found;
			}

			if (this.child.exitCode !== null || this.child.signalCode !== null) {
				throw new Error(`the child exited (${this.child.exitCode ?? this.child.signalCode}) before "${event}"; stderr: ${this.#stderr}`);
			}

			await once(this.#emitter, 'event');
		}
	}

	async ready(): Promise<this> {
		this.instanceId = (await this.waitFor('ready')).instanceId ?? '';
		return this;
	}

	/** A clean stop: stop() of the publisher, then the process exits. */
	async stop(): Promise<void> {
		this.child.stdin.write('stop\n');
		await this.waitFor('stopped');
		await this.exited;
	}
}

function sum(values: number[]): number {
	return values.reduce((total, value) => total + value, 0);
}

describe('fleet heartbeats of separate processes', () => {
	const redis = useTestRedis();
	let modules: string | undefined;
	let reader: RedisClient;
	const children: ChildPublisher[] = [];

	beforeAll(async () => {
		modules = await compileCoreForChildren();
		reader = connect(redis.url);
	});

	afterAll(async () => {
		for (const child of children) {
			child.child.kill('SIGKILL');
		}

		reader?.disconnect();
		if (modules) {
			await rm(modules, {recursive: true, force: true});
		}
	});

	it('both appear; the killed one disappears after its TTL while the other stays; a clean stop disappears at once', async () => {
		const started = [
			new ChildPublisher(modules!, redis.url, 'agent-runtime', 2, SHORT_INTERVAL_MS),
			new ChildPublisher(modules!, redis.url, 'msdb worker', 3, LONG_INTERVAL_MS),
		];
		children.push(...started);
		const [agent, worker] = await Promise.all(started.map(async child => child.ready()));

		const fleet = await readFleet(reader, {env: ENV});
		expect(fleet.skipped).toBe(0);
		expect(fleet.instances.map(instance => [instance.instanceId, instance.service, instance.pid])).toEqual([
			[agent!.instanceId, 'agent-runtime', agent!.child.pid],
			[worker!.instanceId, 'msdb worker', worker!.child.pid],
		]);
		expect(fleet.instances.map(instance => instance.intervalMs)).toEqual([SHORT_INTERVAL_MS, LONG_INTERVAL_MS]);
		for (const instance of fleet.instances) {
			expect(instance).toMatchObject({format: 1, host: hostname(), version: expect.any(String)});
		}

		// Totals add up: pools from the children's settings, caches and Redis from their snapshots.
		const {totals} = fleet;
		expect(totals.instances).toBe(2);
		expect(totals.pools.map(pool => pool.role)).toEqual(['primary', 'background']);
		for (const pool of totals.pools) {
			expect(pool).toMatchObject({instances: 2, max: 20, total: 5, idle: 3, waiting: 0, acquisitions: 14, acquireErrors: 2, queries: 40, queryErrors: 4});
		}

		const caches = fleet.instances.map(instance => instance.caches[0]!);
		expect(totals.caches).toEqual([
			{
				namespace: 'users',
				instances: 2,
				l1: {
					hits: sum(caches.map(cache => cache.l1.hits)),
					misses: sum(caches.map(cache => cache.l1.misses)),
					entries: 2,
					bytes: sum(caches.map(cache => cache.l1.bytes)),
					hitRatio: expect.any(Number),
				},
				l2: {hits: 0, misses: 0, unavailable: 0, hitRatio: null, breakers: {closed: 2, open: 0, 'half-open': 0}},
				l3: {loads: 0, loadErrors: 0},
			},
		]);
		expect(totals.caches[0]!.l1.hits).toBeGreaterThanOrEqual(2);
		const redisRoles = fleet.instances.map(instance => instance.redis[0]!);
		expect(totals.redis).toEqual([
			{
				role: 'cache',
				instances: 2,
				connected: 2,
				commands: {
					ok: sum(redisRoles.map(role => role.commands.ok)),
					error: sum(redisRoles.map(role => role.commands.error)),
					timeout: 0,
				},
				commandMsSum: sum(redisRoles.map(role => role.commandMsSum)),
			},
		]);
		// Each child counts its own publishes (EVALSHA) on its cache connection.
		expect(totals.redis[0]!.commands.ok).toBeGreaterThanOrEqual(2);

		// kill -9: no goodbye, so the snapshot stays until its TTL runs out…
		const keyspace = new FleetKeyspace(ENV);
		agent!.child.kill('SIGKILL');
		await agent!.exited;
		expect(await reader.pttl(keyspace.instance(agent!.instanceId))).toBeLessThanOrEqual(3 * SHORT_INTERVAL_MS);
		// …then it is gone, while the other process stays in every read.
		await waitUntil('the killed process to leave the fleet', async () => {
			const ids = (await readFleet(reader, {env: ENV})).instances.map(instance => instance.instanceId);
			expect(ids).toContain(worker!.instanceId);
			return !ids.includes(agent!.instanceId);
		});
		// The reader pruned the dead instance from the index.
		expect(await reader.zscore(keyspace.indexKey, agent!.instanceId)).toBeNull();

		// A clean stop deletes the snapshot before the process exits: gone at the next read.
		await worker!.stop();
		const after = await readFleet(reader, {env: ENV});
		expect(after.instances).toEqual([]);
		expect(after.totals).toEqual({instances: 0, pools: [], caches: [], redis: []});
		expect(await reader.zcard(keyspace.indexKey)).toBe(0);
	});
});

function poolStats(role: PoolStats['role'], total: number): PoolStats {
	const latency = new LatencyHistogram();
	latency.record(2);
	latency.record(4);
	return {role, max: 10, total, idle: 1, waiting: 0, acquisitions: 2, acquireErrors: 0, acquireLatency: latency.summary(), queries: 5, queryErrors: 1, queryLatency: latency.summary()};
}

function pool(role: PoolHeartbeat['role'], total: number): PoolHeartbeat {
	return {role, max: 10, total, idle: 1, waiting: 2, acquisitions: 3, acquireErrors: 1, acquireMsSum: 1.5, queries: 10, queryErrors: 2, queryMsSum: 20};
}

function cacheLevels(namespace: string, hits: number, misses: number, breaker: CacheHeartbeat['l2']['breaker']): CacheHeartbeat {
	return {namespace, l1: {hits, misses, entries: 5, bytes: 100}, l2: {hits, misses, unavailable: 1, breaker}, l3: {loads: misses, loadErrors: 0}};
}

function redisRole(role: RedisRoleHeartbeat['role'], ok: number, connected: boolean): RedisRoleHeartbeat {
	return {role, connected, commands: {ok, error: 1, timeout: 2}, commandMsSum: ok / 2};
}

function snapshot(instanceId: string, parts: Partial<HeartbeatSnapshot>): HeartbeatSnapshot {
	const now = new Date().toISOString();
	return {format: 1, instanceId, service: 'svc', host: 'h', pid: 1, version: '0.1.0', startedAt: now, publishedAt: now, intervalMs: 5000, pools: [], caches: [], redis: [], ...parts};
}

describeForEachRedisTarget('fleet reader', target => {
	let client: RedisClient;
	const keyspace = new FleetKeyspace(ENV);

	async function write(instanceId: string, text: string, ttlMs = 60_000): Promise<void> {
		await client.set(keyspace.instance(instanceId), text, 'PX', ttlMs);
		await client.zadd(keyspace.indexKey, Date.now() + ttlMs, instanceId);
	}

	beforeAll(() => {
		client = target().connect();
	});

	beforeEach(async () => {
		await target().flush();
	});

	afterAll(() => {
		client?.disconnect();
	});

	it('lists publishers sorted by service, host and pid with what their sources said; stop() leaves at once', async () => {
		const connections = new RedisConnections(resolveRedisConfig({redisUrl: target().url}, {}), {commandTimeoutMs: 10_000});
		const cache = new MultiLevelCache({namespace: 'orders'});
		await cache.get('nothing-yet');
		const pools: PoolsStats = {pools: [poolStats('primary', 4)], replica: undefined};
		const redisOnly = new HeartbeatPublisher({client: connections.client('cache'), env: ENV, service: 'zeta', intervalMs: 60_000, instanceId: 'zeta:1', sources: {redis: () => connections.commandStats()}});
		const poolsAndCache = new HeartbeatPublisher({client: connections.client('cache'), env: ENV, service: 'alpha', intervalMs: 60_000, sources: {pools: () => pools, caches: () => [cache.stats()]}});
		try {
			await connections.client('cache').ping();
			expect(await redisOnly.publishNow()).toBe(true);
			expect(await poolsAndCache.publishNow()).toBe(true);
			const fleet = await readFleet(client, {env: ENV});
			expect(fleet.instances.map(instance => instance.instanceId)).toEqual([poolsAndCache.instanceId, 'zeta:1']);
			expect(poolsAndCache.instanceId).toMatch(new RegExp(`^[^:]+:${process.pid}:[0-9a-f]{8}$`));
			const [alpha, zeta] = fleet.instances;
			expect(alpha).toMatchObject({service: 'alpha', pid: process.pid, pools: poolHeartbeatsOf(pools), caches: [cacheHeartbeatOf(cache.stats())], redis: []});
			expect(alpha!.pools[0]).toMatchObject({acquireMsSum: 6, queryMsSum: 6});
			expect(zeta).toMatchObject({service: 'zeta', intervalMs: 60_000, pools: [], caches: []});
			expect(zeta!.redis).toEqual([expect.objectContaining({role: 'cache', connected: true})]);
			expect(zeta!.redis[0]!.commands.ok).toBeGreaterThanOrEqual(1);
			expect(await client.pttl(keyspace.instance('zeta:1'))).toBeGreaterThan(60_000);
			// Another environment's fleet is another index.
			expect((await readFleet(client, {env: 'elsewhere'})).instances).toEqual([]);

			await redisOnly.stop();
			expect((await readFleet(client, {env: ENV})).instances.map(instance => instance.service)).toEqual(['alpha']);
			// Stopped means stopped: a late publishNow() does not bring it back.
			expect(await redisOnly.publishNow()).toBe(false);
			expect(await client.exists(keyspace.instance('zeta:1'))).toBe(0);
		} finally {
			await Promise.all([redisOnly.stop(), poolsAndCache.stop()]);
			await cache.close();
			await connections.close();
		}
	});

	it('sums pools, caches and Redis roles over instances, skips what it cannot read and prunes expired entries', async () => {
		await write(
			'a',
			JSON.stringify(
				snapshot('a', {
					service: 'api',
					pools: [pool('primary', 3), pool('replica', 1)],
					caches: [cacheLevels('users', 8, 2, 'closed'), cacheLevels('orders', 1, 1, 'open')],
					redis: [redisRole('cache', 10, true), redisRole('sessions', 4, true)],
				}),
			),
		);
		await write(
			'b',
			JSON.stringify(
				snapshot('b', {
					service: 'api',
					pid: 2,
					// A role this version does not know (a newer msdb) is dropped, not the snapshot.
					pools: [pool('primary', 2), {...pool('primary', 9), role: 'future-role' as PoolHeartbeat['role']}],
					caches: [cacheLevels('users', 2, 8, 'half-open')],
					redis: [redisRole('cache', 5, false)],
				}),
			),
		);
		await write('newer', JSON.stringify({...snapshot('newer', {}), format: 2}));
		await write('garbage', '{"format":1, cut sh');
		await write('wrong-shape', JSON.stringify({...snapshot('wrong-shape', {}), pools: 'none'}));
		// A crashed instance: its key expired, its index entry is overdue.
		await client.zadd(keyspace.indexKey, Date.now() - 1000, 'crashed');

		const fleet = await readFleet(client, {env: ENV});
		expect(fleet.env).toBe(ENV);
		expect(fleet.skipped).toBe(3);
		expect(Date.parse(fleet.readAt)).not.toBeNaN();
		expect(fleet.instances.map(instance => instance.instanceId)).toEqual(['a', 'b']);
		expect(fleet.instances[1]!.pools.map(entry => entry.role)).toEqual(['primary']);
		expect(fleet.totals).toEqual({
			instances: 2,
			pools: [
				{role: 'primary', instances: 2, max: 20, total: 5, idle: 2, waiting: 4, acquisitions: 6, acquireErrors: 2, acquireMsSum: 3, queries: 20, queryErrors: 4, queryMsSum: 40},
				{role: 'replica', instances: 1, max: 10, total: 1, idle: 1, waiting: 2, acquisitions: 3, acquireErrors: 1, acquireMsSum: 1.5, queries: 10, queryErrors: 2, queryMsSum: 20},
			],
			caches: [
				{
					namespace: 'orders',
					instances: 1,
					l1: {hits: 1, misses: 1, entries: 5, bytes: 100, hitRatio: 0.5},
					l2: {hits: 1, misses: 1, unavailable: 1, hitRatio: 0.5, breakers: {closed: 0, open: 1, 'half-open': 0}},
					l3: {loads: 1, loadErrors: 0},
				},
				{
					namespace: 'users',
					instances: 2,
					l1: {hits: 10, misses: 10, entries: 10, bytes: 200, hitRatio: 0.5},
					l2: {hits: 10, misses: 10, unavailable: 2, hitRatio: 0.5, breakers: {closed: 1, open: 0, 'half-open': 1}},
					l3: {loads: 10, loadErrors: 0},
				},
			],
			redis: [
				{role: 'cache', instances: 2, connected: 1, commands: {ok: 15, error: 2, timeout: 4}, commandMsSum: 7.5},
				{role: 'sessions', instances: 1, connected: 1, commands: {ok: 4, error: 1, timeout: 2}, commandMsSum: 2},
			],
		});
		expect(await client.zscore(keyspace.indexKey, 'crashed')).toBeNull();
		expect(await client.zscore(keyspace.indexKey, 'a')).not.toBeNull();
	});

	it('refuses options that cannot work', () => {
		const base = {client, service: 'svc', sources: {}};
		for (const options of [{...base, service: ' '}, {...base, intervalMs: 0}, {...base, instanceId: 'index'}, {...base, instanceId: 'has space'}, {...base, instanceId: '{other-slot}'}]) {
			expect(() => new HeartbeatPublisher(options)).toThrow(expect.objectContaining({code: 'E_CONFIG_INVALID'}));
		}
	});
});

describe('a heartbeat publisher while Redis is down', () => {
	let redis: RestartableRedis;

	beforeAll(async () => {
		redis = await startRestartableRedis();
	});

	afterAll(async () => {
		await redis?.stop();
	});

	it('swallows and counts failures, never has more than one publish waiting, and resumes when Redis is back', async () => {
		const connections = new RedisConnections(resolveRedisConfig({redisUrl: redis.url}, {}), {commandTimeoutMs: 200, maxReconnectDelayMs: 100});
		const errors: Error[] = [];
		let failingSource = true;
		const publisher = new HeartbeatPublisher({
			client: connections.client('cache'),
			env: ENV,
			service: 'outage',
			intervalMs: 50,
			sources: {
				redis: () => connections.commandStats(),
				// A source that throws costs its part of the snapshot, not the heartbeat.
				caches: () => {
					if (failingSource) {
						throw new Error('cache stats exploded');
					}

					return [];
				},
			},
			onError: error => errors.push(error),
		});
		const reader = connect(redis.url);
		try {
			publisher.start();
			await waitUntil('a first publish', () => publisher.status().published >= 1);
			expect(publisher.status()).toMatchObject({running: true, lastError: expect.any(String)});
			expect(publisher.status().sourceErrors).toBeGreaterThanOrEqual(1);
			failingSource = false;

			await redis.kill();
			await waitUntil('failed publishes', () => {
				// No overlap: at most the one publish in flight waits for the connection.
				expect(connections.offlineQueue('cache')?.waiting ?? 0).toBeLessThanOrEqual(1);
				return publisher.status().failures >= 3;
			});
			expect(await publisher.publishNow()).toBe(false);
			expect(errors.length).toBeGreaterThanOrEqual(3);
			expect(publisher.status().lastError).toEqual(expect.any(String));

			// The restarted server is empty (no script cached): EVALSHA falls back to EVAL.
			await redis.restart();
			const publishedBefore = publisher.status().published;
			await waitUntil('publishing again', async () => publisher.status().published > publishedBefore && (await readFleet(reader, {env: ENV})).instances.length === 1);
			const [instance] = (await readFleet(reader, {env: ENV})).instances;
			expect(instance).toMatchObject({service: 'outage', instanceId: publisher.instanceId});
			expect(instance!.redis[0]!.commands.error + instance!.redis[0]!.commands.timeout).toBeGreaterThanOrEqual(3);

			await publisher.stop();
			expect(publisher.status().running).toBe(false);
			expect((await readFleet(reader, {env: ENV})).instances).toEqual([]);
		} finally {
			await publisher.stop();
			reader.disconnect();
			await connections.close();
		}
	});
});
