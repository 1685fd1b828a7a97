import {hostname} from 'node:os';
import {ActionableError} from '../errors.js';
import {keyEnvironment} from '../redis/key-names.js';
import type {RedisClient} from '../redis/redis-client.js';
import type {CacheEventListener} from './cache-events.js';
import {checkPart} from './cache-keyspace.js';
import {jsonSerializer, type CacheSerializer} from './cache-serializer.js';

/** How L1 holds values; see {@link MultiLevelCacheOptions.l1}. */
export type L1ValueMode = 'frozen' | 'copy';

export type MultiLevelCacheOptions = {
	/** L2. Omit for an L1-only cache (one process; nothing shared). */
	redis?: RedisClient;
	/**
	 * A connection in subscriber mode for cross-instance L1 invalidation (ioredis puts a
	 * connection that subscribes into a mode where it can do nothing else, so it cannot be
	 * `redis`). Omit only when one instance uses the namespace: without it, another instance's
	 * write or invalidation reaches this L1 only when the entry's L1 TTL ends.
	 */
	subscriber?: RedisClient;
	/** Groups keys in Redis (`ms:<env>:cache:<namespace>:…`) and scopes invalidation; default `default`. */
	namespace?: string;
	/** The `<env>` of Redis key names; default MSDB_ENV, else `dev`. */
	env?: string;
	/** Default time to live of an entry, ms (L2, and L1 unless `l1.ttlMs` is lower). Default 60 s. */
	ttlMs?: number;
	/** L1 settings, or `false` for no L1 (every read goes to Redis). */
	l1?:
		| false
		| {
				/** Most entries held; default 10,000. */
				maxEntries?: number;
				/** Most estimated bytes held (memory-tier.ts explains the estimate); default 64 MiB. */
				maxBytes?: number;
				/** Upper bound of an L1 entry's life, ms; default: the entry's TTL. */
				ttlMs?: number;
				/**
				 * `frozen` (default): L1 holds one deep-frozen copy and every hit returns it (no
				 * per-hit cost; mutating it throws in strict mode). `copy`: L1 holds the serialized
				 * string and every hit returns a fresh deserialized copy the caller may change.
				 */
				values?: L1ValueMode;
				/**
				 * While the invalidation subscription is down, L1 entries live at most this long
				 * (ms, default 1000): long enough to shield PostgreSQL from a stampede during a
				 * Redis outage, short enough to bound staleness when invalidations cannot arrive.
				 */
				unsubscribedTtlMs?: number;
		  };
	l2?: {
		/** Deadline of every Redis call, ms; default 50. */
		deadlineMs?: number;
		/** Each L2 TTL is shortened by up to this fraction at random, so keys filled together do not expire together; default 0.1. */
		ttlJitter?: number;
		/** Largest MGET sent; default 500. */
		maxBatchKeys?: number;
		/** How long a tombstone guards an invalidated key against stale backfills, ms; default 10 s (longer than a slow load). */
		tombstoneTtlMs?: number;
		breaker?: {
			/** Consecutive failures that open the breaker; default 5. */
			failureThreshold?: number;
			/** First open period, ms, jittered; default 1000. */
			openMs?: number;
			/** Longest open period after repeated failed probes, ms; default 30 s. */
			maxOpenMs?: number;
			/** ± jitter fraction of the open period; default 0.2. */
			jitter?: number;
		};
	};
	/**
	 * Cross-instance single flight: before calling a loader for a cold key, take a Redis lease
	 * (`SET NX PX`); instances that find it taken poll L2 for the holder's value instead of
	 * loading too. Off by default (it costs a round trip per cold load); per call with
	 * `getOrLoad(…, {lease: true})`.
	 */
	lease?: {
		enabled?: boolean;
		/** Lease lifetime, ms: a holder that dies frees the key after this; default 10 s. */
		ttlMs?: number;
		/** How long a waiter polls before loading itself, ms; default 3 s. */
		waitMs?: number;
		/** Poll interval, ms (jittered ±25 %); default 20. */
		pollMs?: number;
	};
	invalidation?: {
		/** How often the sequence counter is audited for lost messages, ms (0 = never); default 1000. */
		auditIntervalMs?: number;
		/** Deadline for SUBSCRIBE, ms; default 2000. */
		subscribeTimeoutMs?: number;
	};
	/**
	 * Publish this instance's stats snapshot to Redis every `publishIntervalMs` (with a TTL of
	 * three intervals) so `msdb cache stats` can show it; 0 = never. Default 10 s.
	 */
	stats?: {publishIntervalMs?: number};
	serializer?: CacheSerializer;
	/** Names this instance in stats and messages; default `<host>-<pid>-<random>`. */
	instanceId?: string;
	onEvent?: CacheEventListener;
};

export type ResolvedCacheOptions = {
	redis: RedisClient | undefined;
	subscriber: RedisClient | undefined;
	namespace: string;
	env: string;
	ttlMs: number;
	l1: {enabled: boolean; maxEntries: number; maxBytes: number; ttlMs: number; values: L1ValueMode; unsubscribedTtlMs: number};
	l2: {deadlineMs: number; ttlJitter: number; maxBatchKeys: number; tombstoneTtlMs: number; breaker: {failureThreshold: number; openMs: number; maxOpenMs: number; jitter: number}};
	lease: {enabled: boolean; ttlMs: number; waitMs: number; pollMs: number};
	invalidation: {auditIntervalMs: number; subscribeTimeoutMs: number};
	stats: {publishIntervalMs: number};
	serializer: CacheSerializer;
	instanceId: string;
};

/** Fills in defaults and refuses values that would make the cache misbehave. */
export function resolveCacheOptions(options: MultiLevelCacheOptions): ResolvedCacheOptions {
	const l1 = options.l1 === false ? undefined : (options.l1 ?? {});
	const l2 = options.l2 ?? {};
	const breaker = l2.breaker ?? {};
	const lease = options.lease ?? {};
	const ttlMs = positive('ttlMs', options.ttlMs ?? 60_000);
	const resolved: ResolvedCacheOptions = {
		redis: options.redis,
		subscriber: options.subscriber,
		namespace: checkPart(options.namespace ?? 'default', 'namespace'),
		env: options.env ?? keyEnvironment(),
		ttlMs,
		l1: {
			enabled: l1 !== undefined,
			maxEntries: positive('l1.maxEntries', l1?.maxEntries ?? 10_000),
			maxBytes: positive('l1.maxBytes', l1?.maxBytes ?? 64 * 1024 * 1024),
			ttlMs: positive('l1.ttlMs', l1?.ttlMs ?? ttlMs),
			values: l1?.values ?? 'frozen',
			unsubscribedTtlMs: positive('l1.unsubscribedTtlMs', l1?.unsubscribedTtlMs ?? 1000),
		},
		l2: {
			deadlineMs: positive('l2.deadlineMs', l2.deadlineMs ?? 50),
			ttlJitter: fraction('l2.ttlJitter', l2.ttlJitter ?? 0.1),
			maxBatchKeys: positive('l2.maxBatchKeys', l2.maxBatchKeys ?? 500),
			tombstoneTtlMs: positive('l2.tombstoneTtlMs', l2.tombstoneTtlMs ?? 10_000),
			breaker: {
				failureThreshold: positive('l2.breaker.failureThreshold', breaker.failureThreshold ?? 5),
				openMs: positive('l2.breaker.openMs', breaker.openMs ?? 1000),
				maxOpenMs: positive('l2.breaker.maxOpenMs', breaker.maxOpenMs ?? 30_000),
				jitter: fraction('l2.breaker.jitter', breaker.jitter ?? 0.2),
			},
		},
		lease: {
			enabled: lease.enabled ?? false,
			ttlMs: positive('lease.ttlMs', lease.ttlMs ?? 10_000),
			waitMs: positive('lease.waitMs', lease.waitMs ?? 3000),
			pollMs: positive('lease.pollMs', lease.pollMs ?? 20),
		},
		invalidation: {
			auditIntervalMs: nonNegative('invalidation.auditIntervalMs', options.invalidation?.auditIntervalMs ?? 1000),
			subscribeTimeoutMs: positive('invalidation.subscribeTimeoutMs', options.invalidation?.subscribeTimeoutMs ?? 2000),
		},
		stats: {publishIntervalMs: nonNegative('stats.publishIntervalMs', options.stats?.publishIntervalMs ?? 10_000)},
		serializer: options.serializer ?? jsonSerializer,
		instanceId: checkPart(options.instanceId ?? defaultInstanceId(), 'key'),
	};
	if (resolved.l1.values !== 'frozen' && resolved.l1.values !== 'copy') {
		throw invalid('l1.values', resolved.l1.values, "'frozen' or 'copy'");
	}

	if (resolved.subscriber && resolved.subscriber === resolved.redis) {
		throw invalid('subscriber', 'the same client as redis', 'a separate connection (a subscribed connection can run no other commands)');
	}

	return resolved;
}

function defaultInstanceId(): string {
	const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 40) || 'host';
	return `${host}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

function positive(name: string, value: number): number {
	if (!Number.isFinite(value) || value <= 0) {
		throw invalid(name, value, 'a positive number');
	}

	return value;
}

function nonNegative(name: string, value: number): number {
	if (!Number.isFinite(value) || value < 0) {
		throw invalid(name, value, 'zero or a positive number');
	}

	return value;
}

function fraction(name: string, value: number): number {
	if (!Number.isFinite(value) || value < 0 || value >= 1) {
		throw invalid(name, value, 'a fraction from 0 up to (not including) 1');
	}

	return value;
}

function invalid(name: string, value: unknown, expected: string): ActionableError {
	return new ActionableError('E_CONFIG_INVALID', `Cache option ${name} is ${JSON.stringify(value)}; it must be ${expected}.`, {
		nextStep: `Fix ${name} where the MultiLevelCache is created.`,
		details: {option: name},
	});
}
