/**
 * The compact forms the heartbeat carries, made from the full stats objects a process keeps.
 * Latency histograms shrink to their sums (a mean per fleet is still possible: sum / count);
 * percentiles do not add up across processes, so they stay with the process's own metrics.
 */
import type {CacheStats} from '../cache/cache-stats.js';
import type {PoolsStats} from '../pools/pool-stats.js';
import type {RedisCommandStats} from '../redis/redis-command-stats.js';
import type {CacheHeartbeat, PoolHeartbeat, RedisRoleHeartbeat} from './heartbeat-snapshot.js';

/** One entry per pool; none when the process has no pools (undefined stats). */
export function poolHeartbeatsOf(stats: PoolsStats | undefined): PoolHeartbeat[] {
	return (stats?.pools ?? []).map(pool => ({
		role: pool.role,
		max: pool.max,
		total: pool.total,
		idle: pool.idle,
		waiting: pool.waiting,
		acquisitions: pool.acquisitions,
		acquireErrors: pool.acquireErrors,
		acquireMsSum: pool.acquireLatency.sumMs,
		queries: pool.queries,
		queryErrors: pool.queryErrors,
		queryMsSum: pool.queryLatency.sumMs,
	}));
}

/** One cache instance's levels: hit and miss counters, L1 size, the L2 breaker's state, loads. */
export function cacheHeartbeatOf(stats: CacheStats): CacheHeartbeat {
	return {
		namespace: stats.namespace,
		l1: {hits: stats.l1.hits, misses: stats.l1.misses, entries: stats.l1.entries, bytes: stats.l1.bytes},
		l2: {hits: stats.l2.hits, misses: stats.l2.misses, unavailable: stats.l2.unavailable, breaker: stats.l2.breaker.state},
		l3: {loads: stats.l3.loads, loadErrors: stats.l3.loadErrors},
	};
}

/** One role connection's command counters and the sum of their latencies. */
export function redisRoleHeartbeatOf(stats: RedisCommandStats): RedisRoleHeartbeat {
	return {
		role: stats.role,
		connected: stats.connected,
		commands: {ok: stats.commands.ok, error: stats.commands.error, timeout: stats.commands.timeout},
		commandMsSum: stats.latency.sumMs,
	};
}
