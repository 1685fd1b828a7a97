import type {BreakerState} from './circuit-breaker.js';

/**
 * Typed events of a MultiLevelCache, for logs, the console and tests. Counters and latency
 * histograms are kept by the cache itself (see cache-stats.ts) rather than derived from these
 * events: an event object per L1 hit would cost more than the hit. `cache:hit` / `cache:miss`
 * are therefore only built while someone listens.
 */

export type CacheLevel = 'l1' | 'l2' | 'l3';

/** Why an L2 call did not produce an answer; the cache then falls back to L1/L3. */
export type L2FailureReason =
	/** The per-call deadline passed. */
	| 'timeout'
	/** The connection failed, or Redis answered with an error that means it is unhealthy (LOADING, CLUSTERDOWN …). */
	| 'error'
	/** The client had lost its connection (reconnecting, closed), so nothing was sent. */
	| 'not-ready'
	/** Redis answered with an error about the command itself (a bug or a foreign value); not held against the breaker. */
	| 'reply';

/** Why an instance dropped its whole L1. */
export type L1ClearReason =
	/** A sequence number was skipped: an invalidation was missed. */
	| 'sequence-gap'
	/** The sequence restarted (Redis lost the counter, e.g. restarted without persistence). */
	| 'sequence-reset'
	/** The subscriber connection closed: invalidations from now on are not heard. */
	| 'subscription-lost'
	/** The subscriber is back: whatever was published while it was away is unknown. */
	| 'subscription-restored'
	/** `invalidatePrefix('')` or `clear()` by this or another instance. */
	| 'cleared';

export type CacheEvent =
	| {type: 'cache:hit'; level: 'l1' | 'l2'; key: string}
	| {type: 'cache:miss'; level: 'l1' | 'l2'; key: string}
	| {type: 'cache:load'; key: string; durationMs: number; ok: boolean}
	| {type: 'cache:l2-failure'; operation: string; reason: L2FailureReason; message: string}
	| {type: 'cache:breaker'; state: BreakerState; previous: BreakerState}
	| {type: 'cache:lease'; key: string; outcome: 'acquired' | 'waited' | 'fallback'}
	| {type: 'cache:invalidation'; origin: 'local' | 'remote'; scope: 'keys' | 'prefix' | 'tags' | 'all'; targets: readonly string[]; evicted: number}
	| {type: 'cache:l1-cleared'; reason: L1ClearReason; entries: number}
	| {type: 'cache:stale-write-refused'; key: string};

export type CacheEventListener = (event: CacheEvent) => void;
