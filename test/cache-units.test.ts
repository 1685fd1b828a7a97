/**
 * The cache's building blocks without Redis: the circuit breaker's state machine (fake clock),
 * the L2 entry and invalidation message formats, the cluster slot function, the L1 bounds, the
 * latency histogram and the metrics collector. The behaviour against real Redis is in
 * cache-contract.test.ts and cache-outage.test.ts.
 */
import {Registry} from 'prom-client';
import {describe, expect, it} from 'vitest';
import {registerCacheMetrics} from '../source/core/cache/cache-metrics.js';
import {CircuitBreaker, type BreakerState} from '../source/core/cache/circuit-breaker.js';
import {clusterKeySlot} from '../source/core/redis/cluster-key-slot.js';
import {deepFreeze} from '../source/core/cache/deep-freeze.js';
import {decodeInvalidationMessage, encodeInvalidationBody} from '../source/core/cache/invalidation-message.js';
import {decodeL2Entry, encodeL2Value, encodeTombstone} from '../source/core/cache/l2-entry.js';
import {LatencyHistogram} from '../source/core/metrics/latency-histogram.js';
import {MemoryTier, type L1Entry} from '../source/core/cache/memory-tier.js';
import {MultiLevelCache} from '../source/core/cache/multi-level-cache.js';

function breaker(now: {value: number}, changes: BreakerState[] = []) {
	return new CircuitBreaker({
		failureThreshold: 3,
		openMs: 1000,
		maxOpenMs: 4000,
		jitter: 0,
		now: () => now.value,
		onStateChange: state => changes.push(state),
	});
}

describe('CircuitBreaker', () => {
	it('opens only after several consecutive failures; a success in between resets the count', () => {
		const now = {value: 0};
		const subject = breaker(now);
		subject.failed(subject.admit()!);
		subject.failed(subject.admit()!);
		subject.succeeded(subject.admit()!);
		subject.failed(subject.admit()!);
		subject.failed(subject.admit()!);
		expect(subject.state).toBe('closed');
		subject.failed(subject.admit()!);
		expect(subject.state).toBe('open');
		expect(subject.admit()).toBeUndefined();
	});

	it('lets exactly one probe through after the open period; its success closes', () => {
		const now = {value: 0};
		const changes: BreakerState[] = [];
		const subject = breaker(now, changes);
		for (let index = 0; index < 3; index++) {
			subject.failed(subject.admit()!);
		}

		now.value = 999;
		expect(subject.admit()).toBeUndefined();
		now.value = 1000;
		const probe = subject.admit();
		expect(probe?.probe).toBe(true);
		expect(subject.state).toBe('half-open');
		expect(subject.admit()).toBeUndefined(); // one probe at a time
		subject.succeeded(probe!);
		expect(subject.state).toBe('closed');
		expect(changes).toEqual(['open', 'half-open', 'closed']);
	});

	it('doubles the open period after each failed probe, up to the maximum', () => {
		const now = {value: 0};
		const subject = breaker(now);
		for (let index = 0; index < 3; index++) {
			subject.failed(subject.admit()!);
		}

		const periods: number[] = [];
		for (let round = 0; round < 4; round++) {
			const opened = now.value;
			now.value = subject.snapshot().reopensAt!;
			periods.push(now.value - opened);
			subject.failed(subject.admit()!);
		}

		expect(periods).toEqual([1000, 2000, 4000, 4000]);
	});

	it('ignores results of calls admitted before the state changed', () => {
		const now = {value: 0};
		const subject = breaker(now);
		const early = subject.admit()!;
		for (let index = 0; index < 3; index++) {
			subject.failed(subject.admit()!);
		}

		subject.succeeded(early); // was in flight when it opened: says nothing about the server now
		expect(subject.state).toBe('open');
	});

	it('jitters the open period within ± jitter', () => {
		const now = {value: 0};
		const periods = new Set<number>();
		for (const random of [0, 0.5, 0.999]) {
			const subject = new CircuitBreaker({failureThreshold: 1, openMs: 1000, maxOpenMs: 1000, jitter: 0.2, now: () => now.value, random: () => random});
			subject.failed(subject.admit()!);
			periods.add(subject.snapshot().reopensAt!);
		}

		expect([...periods].sort((a, b) => a - b)).toEqual([800, 1000, 1200]);
	});
});

describe('L2 entry format', () => {
	it('round-trips values with version, expiry and tags, and tombstones', () => {
		const raw = encodeL2Value('{"a":"x|y"}', 1_700_000_000_000, ['user:1', 'org'], 42);
		expect(decodeL2Entry(raw)).toEqual({kind: 'value', version: 42, expiresAt: 1_700_000_000_000, tags: ['user:1', 'org'], payload: '{"a":"x|y"}'});
		expect(decodeL2Entry(encodeL2Value('1', 5, [], undefined))).toMatchObject({kind: 'value', version: undefined, tags: [], payload: '1'});
		expect(decodeL2Entry(encodeTombstone('abc:1'))).toEqual({kind: 'tombstone', raw: 'Tabc:1'});
	});

	it('calls anything else invalid instead of throwing', () => {
		for (const raw of ['', 'plain string', 'V1|x', 'Vx|1|a|b', 'V1|notanumber|a|b']) {
			expect(decodeL2Entry(raw).kind).toBe('invalid');
		}
	});
});

describe('invalidation messages', () => {
	it('round-trips what the publish script produces', () => {
		const body = encodeInvalidationBody('instance-1', {scope: 'keys', targets: ['a', 'b:c']});
		expect(decodeInvalidationMessage(`1|ep0ch|17|${body}`)).toEqual({epoch: 'ep0ch', seq: 17, origin: 'instance-1', scope: 'keys', targets: ['a', 'b:c']});
		expect(decodeInvalidationMessage(`1|e|3|${encodeInvalidationBody('i', {scope: 'all', targets: []})}`)).toMatchObject({scope: 'all', targets: []});
		expect(decodeInvalidationMessage('hello')).toBeUndefined();
		expect(decodeInvalidationMessage('2|e|3|i|k|a')).toBeUndefined();
	});
});

describe('clusterKeySlot', () => {
	// Checked against CLUSTER KEYSLOT of a real cluster in cache-contract.test.ts.
	it('follows the Redis Cluster spec, hash tags included', () => {
		expect(clusterKeySlot('123456789')).toBe(0x31_c3 % 16_384); // the CRC16/XMODEM check value
		expect(clusterKeySlot('{user1000}.following')).toBe(clusterKeySlot('{user1000}.followers'));
		expect(clusterKeySlot('{user1000}.following')).toBe(clusterKeySlot('user1000'));
		expect(clusterKeySlot('foo{}{bar}')).not.toBe(clusterKeySlot('bar')); // an empty first tag: the whole key counts
		expect(clusterKeySlot('foo{{bar}}zap')).toBe(clusterKeySlot('{bar'));
		expect(clusterKeySlot('foo{bar}{zap}')).toBe(clusterKeySlot('bar'));
	});
});

describe('MemoryTier', () => {
	const entry = (bytes: number, tags: string[] = []): L1Entry => ({value: 1, serialized: undefined, tags, version: undefined, bytes});

	it('is bounded by entries and by bytes, evicting the least recently used', () => {
		const byCount = new MemoryTier({maxEntries: 3, maxBytes: 1e9});
		for (const key of ['a', 'b', 'c', 'd']) {
			byCount.set(key, entry(10), 60_000);
		}

		expect(byCount.size).toBe(3);
		expect(byCount.get('a')).toBeUndefined();
		expect(byCount.evictions).toBe(1);

		const byBytes = new MemoryTier({maxEntries: 1000, maxBytes: 1000});
		for (let index = 0; index < 10; index++) {
			byBytes.set(`k${index}`, entry(300), 60_000);
		}

		expect(byBytes.bytes).toBeLessThanOrEqual(1000);
		expect(byBytes.size).toBe(3);
		byBytes.set('huge', entry(5000), 60_000);
		expect(byBytes.get('huge')).toBeUndefined(); // larger than the whole bound: not stored
	});

	it('expires entries by their own TTL', async () => {
		const tier = new MemoryTier({maxEntries: 10, maxBytes: 1e6});
		tier.set('short', entry(1), 30);
		tier.set('long', entry(1), 60_000);
		await new Promise(resolve => setTimeout(resolve, 60));
		expect(tier.get('short')).toBeUndefined();
		expect(tier.get('long')).toBeDefined();
	});

	it('evicts by tag and by prefix, and keeps the tag index in step with evictions', () => {
		const tier = new MemoryTier({maxEntries: 2, maxBytes: 1e6});
		tier.set('user:1', entry(1, ['org:7']), 60_000);
		tier.set('user:2', entry(1, ['org:7']), 60_000);
		tier.set('post:1', entry(1, ['org:8']), 60_000); // evicts user:1
		expect(tier.deleteTag('org:7')).toBe(1);
		expect(tier.get('user:2')).toBeUndefined();
		tier.set('user:3', entry(1), 60_000);
		expect(tier.deletePrefix('user:')).toBe(1);
		expect(tier.get('post:1')).toBeDefined();
	});
});

describe('LatencyHistogram', () => {
	it('estimates quantiles from its buckets', () => {
		const histogram = new LatencyHistogram();
		for (let index = 0; index < 99; index++) {
			histogram.record(0.3);
		}

		histogram.record(40);
		const summary = histogram.summary();
		expect(summary.count).toBe(100);
		expect(summary.p50Ms).toBe(0.5);
		expect(summary.p99Ms).toBe(0.5);
		expect(histogram.quantile(1)).toBe(40);
		expect(summary.buckets.at(-1)).toBe(100);
	});
});

describe('deepFreeze', () => {
	it('freezes nested objects and arrays', () => {
		const value = deepFreeze({a: {b: [1, {c: 2}]}});
		expect(Object.isFrozen(value.a.b[1])).toBe(true);
		expect(() => {
			(value.a.b as unknown[]).push(3);
		}).toThrow(TypeError);
	});
});

describe('L1-only MultiLevelCache and its metrics', () => {
	it('serves from L1, reports counters, and exports them to the given registry only', async () => {
		const cache = new MultiLevelCache({namespace: 'units'});
		let loads = 0;
		const load = async () => {
			loads++;
			return {id: 1, at: new Date(0)};
		};

		const first = await cache.getOrLoad('k', load);
		const second = await cache.getOrLoad('k', load);
		expect(loads).toBe(1);
		// The first caller already gets the serialized round trip: same shape as every later hit.
		expect(first).toEqual({id: 1, at: '1970-01-01T00:00:00.000Z'});
		expect(second).toBe(first);
		expect(Object.isFrozen(first)).toBe(true);
		expect(cache.stats().l1).toMatchObject({hits: 1, misses: 1, entries: 1});
		expect(cache.stats().l3.loads).toBe(1);

		const registry = new Registry();
		const unregister = registerCacheMetrics(cache, registry);
		const text = await registry.metrics();
		expect(text).toContain(`msdb_cache_hits_total{namespace="units",instance="${cache.instanceId}",level="l1"} 1`);
		expect(text).toContain('msdb_cache_latency_seconds_bucket{');
		expect(text).toContain('msdb_cache_breaker_state{');
		const other = new MultiLevelCache({namespace: 'units2'});
		const unregisterOther = registerCacheMetrics(other, registry);
		expect(await registry.metrics()).toContain('namespace="units2"');
		unregister();
		unregisterOther();
		expect(await registry.metrics()).not.toContain('msdb_cache_');
		await cache.close();
		await other.close();
		await expect(cache.get('k')).rejects.toMatchObject({code: 'E_CACHE_CLOSED'});
	});

	it('bounds L1 by l1.maxBytes: large values push the oldest out, within the bound', async () => {
		const value = 'x'.repeat(1000); // ≈ 1.2 kB per entry with the per-entry overhead
		const small = new MultiLevelCache({l1: {maxBytes: 4096}});
		const roomy = new MultiLevelCache();
		const keys = Array.from({length: 10}, (_, index) => `big:${index}`);
		for (const key of keys) {
			await small.set(key, value);
			await roomy.set(key, value);
		}

		const {l1} = small.stats();
		expect(l1.maxBytes).toBe(4096);
		expect(l1.bytes).toBeLessThanOrEqual(4096);
		expect(l1.entries).toBe(3);
		expect(l1.evictions).toBe(7);
		expect(small.peek('big:0')).toBeUndefined();
		expect(small.peek('big:9')).toBe(value);
		// The control: the same writes under the default bound (64 MiB) keep everything.
		expect(roomy.stats().l1).toMatchObject({entries: 10, evictions: 0, maxBytes: 64 * 1024 * 1024});
		await small.close();
		await roomy.close();
	});

	it('defaults the L2 deadline to 50 ms', async () => {
		const cache = new MultiLevelCache();
		expect(cache.stats().l2.deadlineMs).toBe(50);
		const custom = new MultiLevelCache({l2: {deadlineMs: 20}});
		expect(custom.stats().l2.deadlineMs).toBe(20);
		await cache.close();
		await custom.close();
	});

	it('copy mode hands every caller a private, mutable copy', async () => {
		const cache = new MultiLevelCache({l1: {values: 'copy'}});
		await cache.set('k', {list: [1]});
		const a = await cache.get<{list: number[]}>('k');
		a!.list.push(2);
		expect(await cache.get('k')).toEqual({list: [1]});
		await cache.close();
	});

	it('refuses bad keys, undefined and unserializable values with stable codes', async () => {
		const cache = new MultiLevelCache();
		await expect(cache.set('has space', 1)).rejects.toMatchObject({code: 'E_CACHE_KEY_INVALID'});
		await expect(cache.set('k', undefined)).rejects.toMatchObject({code: 'E_CACHE_VALUE_INVALID'});
		await expect(cache.set('k', {n: 1n})).rejects.toMatchObject({code: 'E_CACHE_VALUE_INVALID'});
		await expect(cache.getOrLoad('k', () => 1, {tags: ['bad tag']})).rejects.toMatchObject({code: 'E_CACHE_KEY_INVALID'});
		expect(() => new MultiLevelCache({l2: {deadlineMs: 0}})).toThrow(expect.objectContaining({code: 'E_CONFIG_INVALID'}));
		await cache.close();
	});
});
