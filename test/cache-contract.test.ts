/**
 * The MultiLevelCache contract, run against a standalone redis-server and a three-master Redis
 * Cluster (describeForEachRedisTarget). Each test gets its own cache namespace, so nothing leaks
 * between tests; the counters each test reads are the cache's own (stats()) or the server's
 * (INFO commandstats), so every assertion fails if the feature behind it breaks.
 */
import {Registry} from 'prom-client';
import {afterAll, afterEach, beforeAll, expect, inject, it} from 'vitest';
import {registerCacheMetrics} from '../source/core/cache/cache-metrics.js';
import type {L1ClearReason} from '../source/core/cache/cache-events.js';
import type {MultiLevelCacheOptions} from '../source/core/cache/cache-options.js';
import {CacheKeyspace} from '../source/core/cache/cache-keyspace.js';
import {clusterKeySlot} from '../source/core/redis/cluster-key-slot.js';
import {MultiLevelCache} from '../source/core/cache/multi-level-cache.js';
import {isCluster, masterNodes, type RedisClient} from '../source/core/redis/redis-client.js';
import {histogramOf, parseExposition, valueOf} from './support/prometheus-scrape.js';
import {describeForEachRedisTarget} from './support/redis-targets.js';

const ENV = 'contract';

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
	const started = performance.now();
	while (!(await condition())) {
		if (performance.now() - started > timeoutMs) {
			throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		}

		await new Promise(resolve => setTimeout(resolve, 1));
	}

	return performance.now() - started;
}

const sleep = async (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

describeForEachRedisTarget('MultiLevelCache contract', target => {
	let admin: RedisClient;
	let namespaceNumber = 0;
	let namespace = '';
	const clients: RedisClient[] = [];
	const caches: MultiLevelCache[] = [];

	beforeAll(async () => {
		admin = target().connect();
		await admin.ping();
	});

	afterEach(async () => {
		await Promise.all(caches.splice(0).map(async cache => cache.close()));
		for (const client of clients.splice(0)) {
			client.disconnect();
		}
	});

	afterAll(() => {
		admin.disconnect();
	});

	async function connect(): Promise<RedisClient> {
		const client = target().connect();
		clients.push(client);
		await client.ping();
		return client;
	}

	/** A cache instance on the test's namespace (two calls = two instances sharing L2). */
	async function open(options: MultiLevelCacheOptions = {}): Promise<MultiLevelCache> {
		namespace ||= `ns${++namespaceNumber}`;
		const cache = new MultiLevelCache({redis: await connect(), subscriber: await connect(), env: ENV, namespace, stats: {publishIntervalMs: 0}, ...options});
		caches.push(cache);
		await cache.ready();
		expect(cache.stats().invalidation.subscribed).toBe(true);
		return cache;
	}

	afterEach(() => {
		namespace = '';
	});

	const keyspace = () => new CacheKeyspace(ENV, namespace);

	/**
	 * True when the standalone target is a leased database of a shared server (MSDB_TEST_REDIS_URL):
	 * tests that pause the server, kill its pub/sub clients or reset its command counters would
	 * disturb other test files there, so they skip.
	 */
	const sharedServer = () => target().kind === 'standalone' && inject('redisSource') !== 'local';

	/** Waits until the background backfill of `key` reached L2. */
	async function inL2(key: string): Promise<void> {
		await waitFor(async () => ((await admin.get(keyspace().value(key))) ?? '').startsWith('V'), 2000, `${key} in L2`);
	}

	/** Waits until `cache` received every invalidation published so far (its own included). */
	async function caughtUp(cache: MultiLevelCache): Promise<void> {
		const published = Number((await admin.hget(keyspace().sequenceKey, 'n')) ?? 0);
		await waitFor(() => (cache.stats().invalidation.lastSeq ?? 0) >= published, 2000, `${cache.instanceId} to receive seq ${published}`);
	}

	async function commandCalls(command: string): Promise<number> {
		let calls = 0;
		for (const node of masterNodes(admin)) {
			const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(await node.info('commandstats'));
			calls += Number(match?.[1] ?? 0);
		}

		return calls;
	}

	async function resetCommandStats(): Promise<void> {
		await Promise.all(masterNodes(admin).map(async node => node.config('RESETSTAT')));
	}

	it('counters prove the L1 → L2 → L3 path', async () => {
		const a = await open();
		const b = await open();
		let loads = 0;
		const loader = async () => {
			loads++;
			return {id: 1, name: 'Ada'};
		};

		expect(await a.getOrLoad('user:1', loader)).toEqual({id: 1, name: 'Ada'});
		expect(a.stats()).toMatchObject({l1: {hits: 0, misses: 1}, l2: {hits: 0, misses: 1}, l3: {loads: 1}});
		expect(await a.getOrLoad('user:1', loader)).toEqual({id: 1, name: 'Ada'});
		expect(a.stats()).toMatchObject({l1: {hits: 1, misses: 1}, l2: {hits: 0, misses: 1}, l3: {loads: 1}});

		await inL2('user:1');
		expect(await b.getOrLoad('user:1', loader)).toEqual({id: 1, name: 'Ada'});
		expect(b.stats()).toMatchObject({l1: {hits: 0, misses: 1}, l2: {hits: 1, misses: 0}, l3: {loads: 0}});
		expect(await b.get('user:1')).toEqual({id: 1, name: 'Ada'});
		expect(b.stats()).toMatchObject({l1: {hits: 1, misses: 1}, l2: {hits: 1}, l3: {loads: 0}});
		expect(loads).toBe(1);

		// The same counters reach Prometheus through a registry we own.
		const registry = new Registry();
		registerCacheMetrics(b, registry);
		expect(await registry.metrics()).toContain(`msdb_cache_hits_total{namespace="${namespace}",instance="${b.instanceId}",level="l2"} 1`);
	});

	it('1,000 concurrent getOrLoad calls on a cold key call the loader once', async () => {
		const cache = await open();
		let loads = 0;
		const results = await Promise.all(
			Array.from({length: 1000}, async () =>
				cache.getOrLoad('cold', async () => {
					loads++;
					await sleep(50);
					return {n: 42};
				}),
			),
		);
		expect(loads).toBe(1);
		expect(new Set(results).size).toBe(1);
		expect(results[0]).toEqual({n: 42});
		expect(cache.stats().l3).toMatchObject({loads: 1, coalesced: 999});
	});

	it('1,000 concurrent getOrLoad calls across two instances call the loader once with the lease', async () => {
		const a = await open({lease: {enabled: true}});
		const b = await open({lease: {enabled: true}});
		let loads = 0;
		const loader = async () => {
			loads++;
			await sleep(100);
			return 'loaded once';
		};

		const results = await Promise.all(Array.from({length: 1000}, async (_, index) => (index % 2 === 0 ? a : b).getOrLoad('cold', loader)));
		expect(loads).toBe(1);
		expect(new Set(results)).toEqual(new Set(['loaded once']));
		const lease = [a.stats().l3.lease, b.stats().l3.lease];
		expect(lease[0]!.acquired + lease[1]!.acquired).toBe(1);
		expect(lease[0]!.waited + lease[1]!.waited).toBe(1);
		expect(lease[0]!.fallbacks + lease[1]!.fallbacks).toBe(0);
	});

	it('without the lease, two instances each load (the control for the test above)', async () => {
		const a = await open();
		const b = await open();
		let loads = 0;
		const loader = async () => {
			loads++;
			await sleep(100);
			return 'x';
		};

		await Promise.all([a.getOrLoad('cold', loader), b.getOrLoad('cold', loader)]);
		expect(loads).toBe(2);
	});

	it('a waiter loads by itself when the lease holder died', async () => {
		const cache = await open({lease: {enabled: true, waitMs: 5000}});
		// A holder that took the lease and crashed: nothing will ever be written or released.
		await admin.set(keyspace().lease('orphan'), 'dead-holder', 'PX', 300);
		let loads = 0;
		const started = performance.now();
		expect(
			await cache.getOrLoad('orphan', () => {
				loads++;
				return 'mine';
			}),
		).toBe('mine');
		const elapsed = performance.now() - started;
		expect(loads).toBe(1);
		expect(elapsed).toBeGreaterThan(250); // it waited for the lease to expire…
		expect(elapsed).toBeLessThan(2000); // …not for waitMs
		expect(cache.stats().l3.lease).toMatchObject({acquired: 1, fallbacks: 0});
	});

	it('an invalidate on one instance evicts the other instance’s L1 within 100 ms', async () => {
		const a = await open();
		const b = await open();
		await a.getOrLoad('user:7', () => ({v: 1}));
		await inL2('user:7');
		await b.getOrLoad('user:7', () => ({v: 'wrong'}));
		expect(b.peek('user:7')).toEqual({v: 1});

		const started = performance.now();
		const outcome = await a.invalidate('user:7');
		await waitFor(() => b.peek('user:7') === undefined, 1000, 'b to evict user:7');
		const elapsed = performance.now() - started;
		expect(elapsed).toBeLessThan(100);
		expect(outcome).toEqual({evicted: 1, l2: 'done', broadcast: 'sent'});
		// L2 holds a tombstone, so b's next read reloads rather than finding the old value.
		expect(await b.getOrLoad('user:7', () => ({v: 2}))).toEqual({v: 2});

		// A set is broadcast the same way: the other instance drops its copy and reads the new one.
		expect(b.peek('user:7')).toEqual({v: 2});
		const setStarted = performance.now();
		await a.set('user:7', {v: 3});
		await waitFor(() => b.peek('user:7') === undefined, 1000, 'b to evict user:7 after a set');
		expect(performance.now() - setStarted).toBeLessThan(100);
		expect(await b.get('user:7')).toEqual({v: 3});
		expect(b.stats().invalidation.gaps).toBe(0);
	});

	it('tag invalidation evicts tagged entries from every L1 and from L2', async () => {
		const a = await open();
		const b = await open();
		await a.set('u:1', 'one', {tags: ['org:1']});
		await a.getOrLoad('u:2', () => 'two', {tags: ['org:1', 'all']});
		await a.set('u:3', 'three', {tags: ['org:2']});
		await inL2('u:2');
		expect(await admin.zscore(keyspace().tag('org:1'), 'u:2')).not.toBeNull();
		await caughtUp(b);
		for (const key of ['u:1', 'u:2', 'u:3']) {
			expect(await b.get(key)).toBeDefined();
			expect(b.peek(key)).toBeDefined();
		}

		const outcome = await a.invalidateTag('org:1');
		expect(outcome).toMatchObject({evicted: 2, l2: 'done', broadcast: 'sent'});
		await waitFor(() => b.peek('u:1') === undefined && b.peek('u:2') === undefined, 100, 'b to evict org:1');
		expect(b.peek('u:3')).toBe('three');
		const fresh = await open();
		expect(await fresh.get('u:1')).toBeUndefined();
		expect(await fresh.get('u:2')).toBeUndefined();
		expect(await fresh.get('u:3')).toBe('three');
		expect(await admin.exists(keyspace().tag('org:1'))).toBe(0);
	});

	it('prefix invalidation evicts matching keys from every L1 and from L2 (SCAN on every primary)', async () => {
		const a = await open();
		const b = await open();
		const keys = Array.from({length: 40}, (_, index) => `p:${index}`);
		for (const key of [...keys, 'q:1']) {
			await a.set(key, key);
		}

		// Otherwise a set's own message, arriving late, evicts what b has just read.
		await caughtUp(b);
		for (const key of [...keys, 'q:1']) {
			expect(await b.get(key)).toBe(key);
		}

		expect(await a.invalidatePrefix('p:')).toMatchObject({evicted: 40, l2: 'done', broadcast: 'sent'});
		await waitFor(() => keys.every(key => b.peek(key) === undefined), 100, 'b to evict p:*');
		expect(b.peek('q:1')).toBe('q:1');
		const fresh = await open();
		for (const key of keys) {
			expect(await fresh.get(key)).toBeUndefined();
		}

		expect(await fresh.get('q:1')).toBe('q:1');
	});

	it('a sequence gap clears L1', async () => {
		const a = await open();
		const b = await open();
		await a.invalidate('warm-up'); // establishes the counter's epoch
		await waitFor(() => b.stats().invalidation.lastSeq === 1, 1000, 'b to see seq 1');
		await b.set('kept', 1);
		expect(b.peek('kept')).toBe(1);
		const {epoch, lastSeq} = b.stats().invalidation;
		// A message numbered 5 ahead: the ones in between were lost.
		await admin.publish(keyspace().channel, `1|${epoch}|${lastSeq! + 5}|intruder|k|unrelated`);
		await waitFor(() => b.peek('kept') === undefined, 100, 'b to clear L1 on the gap');
		expect(b.stats().l1.clears['sequence-gap']).toBe(1);
		expect(b.stats().invalidation.gaps).toBe(1);
		expect(b.stats().invalidation.lastSeq).toBe(lastSeq! + 5);
	});

	it('the audit finds a lost last message (counter ahead, no message) and clears L1', async () => {
		const a = await open();
		const b = await open({invalidation: {auditIntervalMs: 100}});
		await a.invalidate('warm-up');
		await waitFor(() => b.stats().invalidation.lastSeq === 1, 1000, 'b to see seq 1');
		await b.set('kept', 1);
		// Taking a number without publishing is exactly what a lost message looks like.
		await admin.hincrby(keyspace().sequenceKey, 'n', 1);
		await waitFor(() => b.peek('kept') === undefined, 1000, 'the audit to clear L1');
		expect(b.stats().l1.clears['sequence-gap']).toBe(1);
	});

	it('losing the subscription clears L1 (the loss itself, not the audit); an invalidation published meanwhile is not missed', async context => {
		context.skip(sharedServer(), 'needs a server of its own');
		const a = await open();
		// No audit: whatever clears b's L1 below can only be the subscription handling.
		const b = await open({invalidation: {auditIntervalMs: 0}});
		const cleared: L1ClearReason[] = [];
		b.subscribe(event => {
			if (event.type === 'cache:l1-cleared') {
				cleared.push(event.reason);
			}
		});
		await a.set('k', 'old');
		expect(await b.get('k')).toBe('old');
		await b.set('other', 1);
		expect(b.peek('other')).toBe(1);
		// On a cluster this kills the connection ioredis keeps behind the Cluster object, which it
		// replaces on another node without telling the Cluster's listeners.
		await Promise.all(masterNodes(admin).map(async node => node.client('KILL', 'TYPE', 'pubsub')));
		await waitFor(() => cleared.includes('subscription-lost'), 2000, 'b to notice the lost subscription');
		expect(b.peek('other')).toBeUndefined();
		expect(b.peek('k')).toBeUndefined();
		await a.set('k', 'new'); // its message may be lost while b resubscribes
		await waitFor(() => b.stats().invalidation.subscribed, 3000, 'b to subscribe again');
		expect(cleared.indexOf('subscription-restored')).toBeGreaterThan(cleared.indexOf('subscription-lost'));
		expect(await b.get('k')).toBe('new');
		const {l1, invalidation} = b.stats();
		expect(l1.clears['subscription-lost']).toBeGreaterThanOrEqual(1);
		expect(l1.clears['subscription-restored']).toBeGreaterThanOrEqual(1);
		expect(invalidation.subscriptionLosses).toBeGreaterThanOrEqual(1);
		// And the new subscription works: the next invalidation arrives as a message.
		await a.invalidate('k');
		await waitFor(() => b.peek('k') === undefined, 1000, 'b to evict k over the new subscription');
	});

	it('reads issued in one tick go out as one MGET per slot', async context => {
		context.skip(sharedServer(), 'needs a server of its own');
		const writer = await open();
		const spread = Array.from({length: 50}, (_, index) => `spread:${index}`);
		const tagged = Array.from({length: 50}, (_, index) => `{batch}:${index}`);
		for (const key of [...spread, ...tagged]) {
			await writer.set(key, key);
		}

		for (const keys of [spread, tagged]) {
			const reader = await open(); // empty L1
			await resetCommandStats();
			expect(await Promise.all(keys.map(async key => reader.get(key)))).toEqual(keys);
			const slots = new Set(keys.map(key => clusterKeySlot(keyspace().value(key)))).size;
			const expected = isCluster(admin) ? slots : 1;
			expect(await commandCalls('mget')).toBe(expected);
			expect(await commandCalls('get')).toBe(0);
			expect(reader.stats().l2).toMatchObject({batches: expected, batchedKeys: 50, hits: 50});
		}
	});

	it('agrees with CLUSTER KEYSLOT (cluster only)', async () => {
		if (!isCluster(admin)) {
			return;
		}

		for (const key of ['123456789', 'foo{}{bar}', 'foo{{bar}}zap', '{user1000}.following', 'ms:contract:cache:x:v:é', ...Array.from({length: 50}, (_, index) => `k:${index}`)]) {
			expect(clusterKeySlot(key), key).toBe(await admin.cluster('KEYSLOT', key));
		}
	});

	it('never throws a Redis error: a wrong-type value at a key is a miss', async () => {
		const cache = await open();
		await admin.hset(keyspace().value('hash'), 'field', 'value');
		expect(await cache.get('hash')).toBeUndefined();
		expect(await cache.getOrLoad('hash', () => 'from the loader')).toBe('from the loader');
		await admin.set(keyspace().value('foreign'), 'not an entry');
		expect(await cache.get('foreign')).toBeUndefined();
		const {l2} = cache.stats();
		expect(l2.failures.reply).toBeGreaterThanOrEqual(1);
		expect(l2.invalid).toBe(1);
		expect(l2.breaker.state).toBe('closed');
	});

	it('refuses a stale backfill when the key was invalidated while the loader ran', async () => {
		const a = await open();
		const b = await open();
		let release!: () => void;
		const loading = a.getOrLoad('row:1', async () => {
			await new Promise<void>(resolve => {
				release = resolve;
			});
			return 'read before the update';
		});
		await waitFor(() => release !== undefined, 1000, 'the loader to start');
		// Another instance commits an update and invalidates while a's loader is still running.
		await b.invalidate('row:1');
		release();
		expect(await loading).toBe('read before the update'); // a's callers asked before the update
		await waitFor(() => a.stats().l3.staleWritesRefused === 1, 1000, 'the backfill to be refused');
		expect(a.peek('row:1')).toBeUndefined();
		expect((await admin.get(keyspace().value('row:1')))?.startsWith('T')).toBe(true);
		const fresh = await open();
		expect(await fresh.getOrLoad('row:1', () => 'after the update')).toBe('after the update');
	});

	it('versioned writes never replace a newer version', async () => {
		const a = await open();
		const b = await open();
		expect(await a.set('doc', 'v5', {version: 5})).toEqual({l2: 'stored', broadcast: 'sent'});
		expect(await b.set('doc', 'v4', {version: 4})).toEqual({l2: 'refused', broadcast: 'none'});
		expect(b.peek('doc')).toBeUndefined();
		expect(await b.get('doc')).toBe('v5');
		expect(await b.set('doc', 'v6', {version: 6})).toMatchObject({l2: 'stored'});
		await waitFor(() => a.peek('doc') === undefined, 1000, 'a to drop v5');
		expect(await a.get('doc')).toBe('v6');
	});

	it('entries expire in L1 and L2', async () => {
		const cache = await open({ttlMs: 300});
		await cache.set('brief', 1);
		expect(await admin.pttl(keyspace().value('brief'))).toBeGreaterThan(0);
		await sleep(350);
		expect(cache.peek('brief')).toBeUndefined();
		expect(await cache.get('brief')).toBeUndefined();
		expect(await admin.exists(keyspace().value('brief'))).toBe(0);
	});

	it('L2 TTLs are jittered downwards only, within l2.ttlJitter (default 0.1) of the TTL', async () => {
		const ttlMs = 10_000;
		const window = 0.1 * ttlMs; // the default l2.ttlJitter
		const cache = await open({ttlMs});
		const keys = Array.from({length: 50}, (_, index) => `jitter:${index}`);
		const started = performance.now();
		await Promise.all(keys.map(async key => cache.getOrLoad(key, () => key)));
		await Promise.all(keys.map(async key => inL2(key)));
		const pttls = await Promise.all(keys.map(async key => admin.pttl(keyspace().value(key))));
		const elapsed = performance.now() - started;
		for (const pttl of pttls) {
			expect(pttl).toBeLessThanOrEqual(ttlMs); // never lengthened
			expect(pttl).toBeGreaterThanOrEqual(ttlMs - window - elapsed - 1); // shortened by at most the window
		}

		// Without jitter the 50 TTLs would differ only by the few ms the writes took.
		expect(new Set(pttls).size).toBeGreaterThan(25);
		expect(Math.max(...pttls) - Math.min(...pttls)).toBeGreaterThan(window / 2 + elapsed);
		// set() draws its own: the same spread, not one value per call site.
		for (const key of keys) {
			await cache.set(key, 'again');
		}

		const again = await Promise.all(keys.map(async key => admin.pttl(keyspace().value(key))));
		expect(Math.max(...again) - Math.min(...again)).toBeGreaterThan(window / 2);
	});

	it('stats() and the prom-client registry report hits and misses per level, L2 and L3 latency, and the breaker state by value', async context => {
		context.skip(sharedServer(), 'needs a server of its own');
		// No deadlineMs: the default (50 ms) is what the paused read below runs into.
		const a = await open({l2: {breaker: {failureThreshold: 1, openMs: 60_000, maxOpenMs: 60_000}}});
		const b = await open();
		const registry = new Registry();
		registerCacheMetrics(a, registry);
		registerCacheMetrics(b, registry);
		const series = (cache: MultiLevelCache, extra: Record<string, string> = {}) => ({namespace, instance: cache.instanceId, ...extra});
		const cold = 8;
		const keys = Array.from({length: cold}, (_, index) => `metric:${index}`);
		for (const [index, key] of keys.entries()) {
			expect(
				await a.getOrLoad(key, async () => {
					await sleep(2);
					return index;
				}),
			).toBe(index);
		}

		for (const [index, key] of keys.entries()) {
			expect(await a.get(key)).toBe(index); // L1
		}

		await Promise.all(keys.map(async key => inL2(key)));
		for (const [index, key] of keys.entries()) {
			expect(await b.get(key)).toBe(index); // L2
		}

		const stats = a.stats();
		expect(stats.l2.deadlineMs).toBe(50);
		expect(stats.l2.latency.count).toBeGreaterThanOrEqual(cold);
		expect(stats.l2.latency.p99Ms).toBeGreaterThan(0);
		expect(stats.l3.latency.count).toBe(cold);
		expect(stats.l3.latency.p99Ms).toBeGreaterThanOrEqual(2); // every load slept 2 ms
		expect(b.stats().l2.latency.count).toBeGreaterThanOrEqual(cold);
		expect(b.stats().l2.latency.p99Ms).toBeGreaterThan(0);

		const before = parseExposition(await registry.metrics());
		expect(valueOf(before, 'msdb_cache_misses_total', series(a, {level: 'l1'}))).toBe(cold);
		expect(valueOf(before, 'msdb_cache_misses_total', series(a, {level: 'l2'}))).toBe(cold);
		expect(valueOf(before, 'msdb_cache_hits_total', series(a, {level: 'l1'}))).toBe(cold);
		expect(valueOf(before, 'msdb_cache_hits_total', series(a, {level: 'l2'}))).toBe(0);
		expect(valueOf(before, 'msdb_cache_misses_total', series(b, {level: 'l1'}))).toBe(cold);
		expect(valueOf(before, 'msdb_cache_misses_total', series(b, {level: 'l2'}))).toBe(0);
		expect(valueOf(before, 'msdb_cache_hits_total', series(b, {level: 'l2'}))).toBe(cold);
		expect(valueOf(before, 'msdb_cache_loads_total', series(a))).toBe(cold);
		const l3 = histogramOf(before, 'msdb_cache_latency_seconds', series(a, {level: 'l3'}));
		expect(l3?.count).toBe(cold);
		expect(l3?.sum).toBeGreaterThanOrEqual((cold * 2) / 1000);
		expect(l3?.buckets['0.001']).toBe(0); // no load took under 1 ms
		const l2 = histogramOf(before, 'msdb_cache_latency_seconds', series(a, {level: 'l2'}));
		expect(l2?.count).toBeGreaterThanOrEqual(cold);
		expect(l2?.sum).toBeGreaterThan(0);
		expect(histogramOf(before, 'msdb_cache_latency_seconds', series(b, {level: 'l3'}))?.count).toBe(0);
		expect(valueOf(before, 'msdb_cache_breaker_state', series(a))).toBe(0); // closed

		const failures: string[] = [];
		a.subscribe(event => {
			if (event.type === 'cache:l2-failure') {
				failures.push(event.message);
			}
		});
		// Every primary stops answering: a's next L2 read runs into its deadline and opens the breaker.
		await Promise.all(masterNodes(admin).map(async node => node.client('PAUSE', 300, 'ALL')));
		const started = performance.now();
		expect(await a.get('not-cached')).toBeUndefined();
		expect(performance.now() - started).toBeLessThan(250);
		expect(failures).toContain('no answer within 50 ms');
		expect(a.stats().l2.breaker.state).toBe('open');
		const after = parseExposition(await registry.metrics());
		expect(valueOf(after, 'msdb_cache_breaker_state', series(a))).toBe(2); // open
		expect(valueOf(after, 'msdb_cache_breaker_state', series(b))).toBe(0);
		expect(valueOf(after, 'msdb_cache_breaker_opens_total', series(a))).toBe(1);
		expect(valueOf(after, 'msdb_cache_l2_failures_total', series(a, {reason: 'timeout'}))).toBeGreaterThanOrEqual(1);
		expect(valueOf(after, 'msdb_cache_misses_total', series(a, {level: 'l1'}))).toBe(cold + 1);
		expect(valueOf(after, 'msdb_cache_misses_total', series(a, {level: 'l2'}))).toBe(cold); // no answer is not a miss
		await sleep(350); // let the pause end before the caches close
	});

	it('a hung Redis: every read answers within the deadline, the breaker opens, probes and closes', async context => {
		context.skip(sharedServer(), 'needs a server of its own');
		const deadlineMs = 50;
		const cache = await open({l1: false, l2: {deadlineMs, breaker: {failureThreshold: 3, openMs: 150, maxOpenMs: 300}}});
		const key = (index: number) => `slow:${index}`;
		for (let index = 0; index < 20; index++) {
			await cache.set(key(index), index);
		}

		// Every primary stops answering (as a hung server or a black-holed network would) for 800 ms.
		await Promise.all(masterNodes(admin).map(async node => node.client('PAUSE', 800, 'ALL')));
		const latencies: number[] = [];
		const pausedUntil = performance.now() + 700;
		let index = 0;
		while (performance.now() < pausedUntil) {
			const started = performance.now();
			const value = await cache.getOrLoad(key(index % 20), () => index % 20);
			latencies.push(performance.now() - started);
			expect(value).toBe(index % 20);
			index++;
		}

		expect(Math.max(...latencies)).toBeLessThan(deadlineMs + 30);
		const during = cache.stats().l2;
		expect(during.failures.timeout).toBeGreaterThanOrEqual(3);
		expect(during.breaker.opens).toBeGreaterThanOrEqual(1);
		expect(during.refused).toBeGreaterThan(0); // reads skipped L2 entirely while it was open

		await waitFor(
			async () => {
				await cache.get(key(0));
				return cache.stats().l2.breaker.state === 'closed';
			},
			5000,
			'the breaker to close',
		);
		const hits = cache.stats().l2.hits;
		expect(await cache.get(key(1))).toBe(1);
		expect(cache.stats().l2.hits).toBe(hits + 1);
	});
});
