import type {CacheEventListener} from './cache-events.js';
import type {CacheStats} from './cache-stats.js';

/** Computes a value on a miss (typically a PostgreSQL query). Return `undefined` for "do not cache"; `null` is cached. */
export type CacheLoader<T> = (context: {key: string}) => Promise<T> | T;

export type CacheWriteOptions = {
	/** Time to live, ms; default: the cache's `ttlMs`. */
	ttlMs?: number;
	/** Tags for {@link Cache.invalidateTag}; same character rules as keys. */
	tags?: readonly string[];
	/**
	 * The source row's version (a non-negative safe integer: a counter, `xmin`, an updated-at in
	 * ms). L2 then never replaces a higher version with a lower one.
	 */
	version?: number;
};

export type GetOrLoadOptions<T> = Omit<CacheWriteOptions, 'version'> & {
	/** Use the cross-instance lease for this call; default: the cache's `lease.enabled`. */
	lease?: boolean;
	/** Reads the version of a loaded value (see {@link CacheWriteOptions.version}). */
	versionOf?: (value: T) => number | undefined;
};

/** What a write reached. Never an error: Redis trouble is reported here, not thrown. */
export type CacheWriteOutcome = {
	/** `refused`: L2 holds a higher version (the value was not kept in L1 either). */
	l2: 'stored' | 'refused' | 'unavailable' | 'none';
	/** Whether other instances were told to drop their L1 copy. */
	broadcast: 'sent' | 'failed' | 'none';
};

/** What an invalidation reached. Callers that must not lose one (after a commit) can retry or queue a repair on `unavailable`/`failed`. */
export type InvalidationOutcome = {
	/** Entries removed from this instance's L1. */
	evicted: number;
	l2: 'done' | 'unavailable' | 'none';
	broadcast: 'sent' | 'failed' | 'none';
};

/**
 * The cache contract: L1 (in process) → L2 (Redis) → L3 (the loader). Every implementation runs
 * the same contract test suite (test/cache-contract.test.ts). No method rejects because of
 * Redis: when Redis is slow or down, reads fall back to L1 and the loader, and writes report
 * what they reached. Methods do reject for caller errors (invalid key, unserializable value,
 * use after close) and with the loader's own error.
 */
export type Cache = {
	/** The value of `key` from L1 or L2, or undefined. Never calls a loader. */
	get<T = unknown>(key: string): Promise<T | undefined>;

	/** The value of `key` if it is in this instance's L1 now; no Redis, no recency update, no counters. */
	peek<T = unknown>(key: string): T | undefined;

	/**
	 * The value of `key` from L1, else L2, else from `loader` (stored in L1 and L2). Concurrent
	 * calls for one key in this process share one load (the first caller's loader runs); with
	 * the lease, so do calls in other instances.
	 */
	getOrLoad<T>(key: string, loader: CacheLoader<T>, options?: GetOrLoadOptions<T>): Promise<T>;

	/** Stores a value in L1 and L2 and tells other instances to drop their L1 copy. */
	set<T>(key: string, value: T, options?: CacheWriteOptions): Promise<CacheWriteOutcome>;

	/** Same as {@link Cache.invalidate} for one key. */
	delete(key: string): Promise<InvalidationOutcome>;

	/**
	 * Removes keys from every instance's L1 and from L2, leaving short-lived tombstones so a load
	 * that started before this call cannot write its older result back.
	 */
	invalidate(keys: string | readonly string[]): Promise<InvalidationOutcome>;

	/**
	 * Removes every key starting with `prefix` (`''`: the whole namespace). L2 is found with SCAN,
	 * O(keys in Redis): an operator's tool; hot paths use tags.
	 */
	invalidatePrefix(prefix: string): Promise<InvalidationOutcome>;

	/** Removes every entry written with any of `tags`, in every instance's L1 and in L2. */
	invalidateTag(tags: string | readonly string[]): Promise<InvalidationOutcome>;

	/** A snapshot of counters, latencies and breaker state. */
	stats(): CacheStats;

	/** Listens to typed events; returns the function that stops listening. */
	subscribe(listener: CacheEventListener): () => void;

	/** Resolves once the first attempt to subscribe to invalidations has settled (either way). */
	ready(): Promise<void>;

	/** Stops timers and listeners and waits for background writes; the Redis clients stay open (they are the caller's). */
	close(): Promise<void>;
};
