/**
 * The multi-level cache (L1 in process → L2 Redis → L3 a loader). Headless; what
 * source/index.ts re-exports for framework services.
 */
export {MultiLevelCache} from './multi-level-cache.js';
export type {Cache, CacheLoader, CacheWriteOptions, CacheWriteOutcome, GetOrLoadOptions, InvalidationOutcome} from './cache.js';
export type {MultiLevelCacheOptions, L1ValueMode} from './cache-options.js';
export type {CacheEvent, CacheEventListener, CacheLevel, L1ClearReason, L2FailureReason} from './cache-events.js';
export type {CacheStats} from './cache-stats.js';
export type {BreakerState, BreakerSnapshot} from './circuit-breaker.js';
export type {LatencySummary} from '../metrics/latency-histogram.js';
export {jsonSerializer} from './cache-serializer.js';
export type {CacheSerializer} from './cache-serializer.js';
export {registerCacheMetrics} from './cache-metrics.js';
export type {CacheStatsSource} from './cache-metrics.js';
export {inspectCache} from './cache-inspection.js';
export type {CacheInspection, CacheInspectionOptions} from './cache-inspection.js';
