import type {L1ClearReason} from './cache-events.js';
import type {BreakerSnapshot} from './circuit-breaker.js';
import type {InvalidationBusSnapshot} from './invalidation-bus.js';
import type {LatencySummary} from '../metrics/latency-histogram.js';

/**
 * A plain-data snapshot of one cache instance (`cache.stats()`): what the console, `msdb
 * health`, the prom-client collector and `msdb cache stats` (via the published copy) read.
 * Counters count since the instance was created.
 */
export type CacheStats = {
	namespace: string;
	instanceId: string;
	/** ISO time of the snapshot. */
	takenAt: string;
	l1: {
		enabled: boolean;
		hits: number;
		misses: number;
		/** hits / (hits + misses), or null before any read. */
		hitRatio: number | null;
		entries: number;
		/** Estimated, see memory-tier.ts. */
		bytes: number;
		maxEntries: number;
		maxBytes: number;
		/** Entries pushed out by the entry or byte bound. */
		evictions: number;
		/** Whole-L1 clears, by reason. */
		clears: Record<L1ClearReason, number>;
	};
	l2: {
		enabled: boolean;
		/** The Redis client is connected now. */
		connected: boolean;
		hits: number;
		/** Absent keys and tombstones. */
		misses: number;
		/** Reads that got no answer (deadline, error, breaker open, not connected). */
		unavailable: number;
		/** Entries Redis returned that could not be decoded or deserialized (treated as misses). */
		invalid: number;
		writes: number;
		/** Failed calls by reason (every operation, reads and writes). */
		failures: {timeout: number; error: number; notReady: number; reply: number};
		/** Calls the open breaker refused without sending. */
		refused: number;
		/** Round-trip latency of every L2 call (an MGET batch counts once). */
		latency: LatencySummary;
		/** MGETs sent and the keys they carried: keys/batches is the batching factor. */
		batches: number;
		batchedKeys: number;
		deadlineMs: number;
		breaker: BreakerSnapshot;
	};
	l3: {
		/** Loader calls. */
		loads: number;
		loadErrors: number;
		/** getOrLoad calls that joined a load already running in this process. */
		coalesced: number;
		latency: LatencySummary;
		/** Backfills refused because the key was invalidated while the loader ran. */
		staleWritesRefused: number;
		lease: {acquired: number; waited: number; fallbacks: number};
	};
	invalidation: InvalidationBusSnapshot & {enabled: boolean};
};
