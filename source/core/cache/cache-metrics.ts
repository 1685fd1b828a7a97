import type {Registry} from 'prom-client';
import type {CacheStats} from './cache-stats.js';
import {histogramSamples as histogram, registerMember, type MetricFamily, type MetricSample, type MetricType} from '../metrics/collected-metric.js';

/**
 * Exposes caches to Prometheus through a prom-client Registry the caller owns (never the global
 * default registry). Values are read from `cache.stats()` at scrape time, so the cache's hot
 * path pays nothing for metrics, and several caches share one set of metric families,
 * told apart by the `namespace` and `instance` labels.
 *
 * Families (all labelled namespace, instance):
 *   msdb_cache_hits_total{level}, msdb_cache_misses_total{level}     level l1 | l2
 *   msdb_cache_latency_seconds{level}                                 histogram, level l2 | l3
 *   msdb_cache_breaker_state                                          0 closed, 1 half-open, 2 open
 *   msdb_cache_breaker_opens_total, msdb_cache_l2_failures_total{reason}, msdb_cache_l2_refused_total
 *   msdb_cache_l2_batches_total, msdb_cache_l2_batched_keys_total
 *   msdb_cache_loads_total, msdb_cache_load_errors_total, msdb_cache_coalesced_total
 *   msdb_cache_lease_total{outcome}, msdb_cache_stale_writes_refused_total
 *   msdb_cache_l1_entries, msdb_cache_l1_bytes, msdb_cache_l1_evictions_total, msdb_cache_l1_clears_total{reason}
 *   msdb_cache_invalidation_subscribed, msdb_cache_invalidation_sequence, msdb_cache_invalidation_gaps_total,
 *   msdb_cache_invalidations_published_total, msdb_cache_invalidations_received_total
 */

/** Anything with a stats() snapshot: a MultiLevelCache, or a wrapper around one. */
export type CacheStatsSource = {stats(): CacheStats};

type Family = {
	name: string;
	help: string;
	type: MetricType;
	samples: (stats: CacheStats, labels: Record<string, string>) => MetricSample[];
};

const BREAKER_STATE_VALUE = {closed: 0, 'half-open': 1, open: 2} as const;

const FAMILIES: Family[] = [
	counter('msdb_cache_hits_total', 'Reads answered by a level', s => [
		[{level: 'l1'}, s.l1.hits],
		[{level: 'l2'}, s.l2.hits],
	]),
	counter('msdb_cache_misses_total', 'Reads a level could not answer', s => [
		[{level: 'l1'}, s.l1.misses],
		[{level: 'l2'}, s.l2.misses],
	]),
	{
		name: 'msdb_cache_latency_seconds',
		help: 'Latency of L2 calls (an MGET batch counts once) and of loader calls (L3)',
		type: 'histogram',
		samples: (s, labels) => [...histogram('msdb_cache_latency_seconds', {...labels, level: 'l2'}, s.l2.latency), ...histogram('msdb_cache_latency_seconds', {...labels, level: 'l3'}, s.l3.latency)],
	},
	gauge('msdb_cache_breaker_state', 'L2 circuit breaker: 0 closed, 1 half-open, 2 open', s => [[{}, BREAKER_STATE_VALUE[s.l2.breaker.state]]]),
	counter('msdb_cache_breaker_opens_total', 'Times the L2 circuit breaker opened', s => [[{}, s.l2.breaker.opens]]),
	counter('msdb_cache_l2_failures_total', 'L2 calls that gave no answer, by reason', s => [
		[{reason: 'timeout'}, s.l2.failures.timeout],
		[{reason: 'error'}, s.l2.failures.error],
		[{reason: 'not-ready'}, s.l2.failures.notReady],
		[{reason: 'reply'}, s.l2.failures.reply],
	]),
	counter('msdb_cache_l2_refused_total', 'L2 calls the open breaker refused without sending', s => [[{}, s.l2.refused]]),
	counter('msdb_cache_l2_batches_total', 'MGET commands sent', s => [[{}, s.l2.batches]]),
	counter('msdb_cache_l2_batched_keys_total', 'Keys read through MGET', s => [[{}, s.l2.batchedKeys]]),
	counter('msdb_cache_loads_total', 'Loader (L3) calls', s => [[{}, s.l3.loads]]),
	counter('msdb_cache_load_errors_total', 'Loader calls that threw', s => [[{}, s.l3.loadErrors]]),
	counter('msdb_cache_coalesced_total', 'getOrLoad calls that joined a load already running in the process', s => [[{}, s.l3.coalesced]]),
	counter('msdb_cache_lease_total', 'Cross-instance lease outcomes', s => [
		[{outcome: 'acquired'}, s.l3.lease.acquired],
		[{outcome: 'waited'}, s.l3.lease.waited],
		[{outcome: 'fallback'}, s.l3.lease.fallbacks],
	]),
	counter('msdb_cache_stale_writes_refused_total', 'Backfills refused because the key was invalidated while the loader ran', s => [[{}, s.l3.staleWritesRefused]]),
	gauge('msdb_cache_l1_entries', 'Entries in L1', s => [[{}, s.l1.entries]]),
	gauge('msdb_cache_l1_bytes', 'Estimated bytes in L1', s => [[{}, s.l1.bytes]]),
	counter('msdb_cache_l1_evictions_total', 'L1 entries pushed out by the entry or byte bound', s => [[{}, s.l1.evictions]]),
	counter('msdb_cache_l1_clears_total', 'Whole-L1 clears, by reason', s => Object.entries(s.l1.clears).map(([reason, value]) => [{reason}, value])),
	gauge('msdb_cache_invalidation_subscribed', '1 while invalidations from other instances are heard', s => [[{}, s.invalidation.subscribed ? 1 : 0]]),
	gauge('msdb_cache_invalidation_sequence', 'Last invalidation sequence number seen', s => [[{}, s.invalidation.lastSeq ?? 0]]),
	counter('msdb_cache_invalidation_gaps_total', 'Lost invalidation messages detected (each cleared L1)', s => [[{}, s.invalidation.gaps]]),
	counter('msdb_cache_invalidations_published_total', 'Invalidation messages published', s => [[{}, s.invalidation.published]]),
	counter('msdb_cache_invalidations_received_total', 'Invalidation messages received', s => [[{}, s.invalidation.received]]),
];

/**
 * The families as the shared collector sees them: each reads `stats()` of the cache (the member)
 * at scrape time and labels its series with the cache's namespace and instance.
 */
const CACHE_FAMILIES: ReadonlyArray<MetricFamily<CacheStatsSource>> = FAMILIES.map(family => ({
	name: family.name,
	help: family.help,
	type: family.type,
	samples(source: CacheStatsSource) {
		const stats = source.stats();
		return family.samples(stats, {namespace: stats.namespace, instance: stats.instanceId});
	},
}));

/**
 * Registers the cache's metrics in `registry` (several caches may share one registry). Returns
 * the function that removes this cache again (and the families, when it was the last one).
 */
export function registerCacheMetrics(cache: CacheStatsSource, registry: Registry): () => void {
	return registerMember(registry, CACHE_FAMILIES, cache);
}

function counter(name: string, help: string, values: (stats: CacheStats) => Array<[Record<string, string>, number]>): Family {
	return {name, help, type: 'counter', samples: (stats, labels) => values(stats).map(([extra, value]) => ({labels: {...labels, ...extra}, value}))};
}

function gauge(name: string, help: string, values: (stats: CacheStats) => Array<[Record<string, string>, number]>): Family {
	return {...counter(name, help, values), type: 'gauge'};
}
