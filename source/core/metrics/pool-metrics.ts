/**
 * Exposes a process's PostgreSQL pools (DatabasePools) to Prometheus through a prom-client
 * Registry the caller owns. Values are read from `pools.stats()` at scrape time; the pools'
 * instrumentation is a few counter increments and one histogram bucket per checkout and query.
 *
 * Families (labelled role, plus instance when given):
 *   msdb_pg_pool_connections{state}          gauge: idle | busy (checked out)
 *   msdb_pg_pool_max_connections             gauge
 *   msdb_pg_pool_waiting_clients             gauge: callers queued for a connection
 *   msdb_pg_pool_acquisitions_total          counter: successful checkouts
 *   msdb_pg_pool_acquire_errors_total        counter: checkouts that failed (connect error, timeout)
 *   msdb_pg_pool_acquire_seconds             histogram: asking for a connection → holding it
 *   msdb_pg_query_duration_seconds           histogram: statements through the pool's helpers (failed ones too)
 *   msdb_pg_query_errors_total               counter
 * Replica routing (no role label; only when a replica URL is configured):
 *   msdb_pg_replica_routing{target}          gauge: 1 for where replica reads go now (replica | primary), 0 for the other
 *   msdb_pg_replica_lag_seconds              gauge: replay lag at the last check; no sample while unknown (replica down)
 *   msdb_pg_replica_fallbacks_total          counter: replica reads sent to the primary
 * Pools appear once created (DatabasePools creates a role's pool on first use).
 */
import type {Registry} from 'prom-client';
import type {PoolsStats, PoolStats} from '../pools/pool-stats.js';
import {counterFamily, gaugeFamily, histogramSamples, membersOf, refuseDuplicateInstance, registerMember, type LabelledValues, type MetricFamily} from './collected-metric.js';

/** Anything with a pools stats() snapshot: a DatabasePools, or a wrapper around one. */
export type PoolStatsSource = {stats(): PoolsStats};

/** How the series of one set of pools are told apart from another's in the same registry. */
export type PoolMetricsOptions = {
	/** Value of an `instance` label on every series; needed only when several pool sets share a registry. */
	instance?: string;
};

type Member = {source: PoolStatsSource; labels: Record<string, string>};

function perPool(name: string, help: string, type: 'counter' | 'gauge', values: (pool: PoolStats) => LabelledValues): MetricFamily<Member> {
	const collect = (member: Member): LabelledValues => member.source.stats().pools.flatMap(pool => values(pool).map(([labels, value]): [Record<string, string>, number] => [{role: pool.role, ...labels}, value]));
	return type === 'counter' ? counterFamily(name, help, collect, member => member.labels) : gaugeFamily(name, help, collect, member => member.labels);
}

function latencyFamily(name: string, help: string, latency: (pool: PoolStats) => PoolStats['queryLatency']): MetricFamily<Member> {
	return {
		name,
		help,
		type: 'histogram',
		samples: member => member.source.stats().pools.flatMap(pool => histogramSamples(name, {...member.labels, role: pool.role}, latency(pool))),
	};
}

const FAMILIES: ReadonlyArray<MetricFamily<Member>> = [
	perPool('msdb_pg_pool_connections', 'Open connections of the pool, idle or busy (checked out)', 'gauge', pool => [
		[{state: 'idle'}, pool.idle],
		[{state: 'busy'}, Math.max(0, pool.total - pool.idle)],
	]),
	perPool('msdb_pg_pool_max_connections', 'Largest number of connections the pool may open', 'gauge', pool => [[{}, pool.max]]),
	perPool('msdb_pg_pool_waiting_clients', 'Callers waiting for a connection of the pool', 'gauge', pool => [[{}, pool.waiting]]),
	perPool('msdb_pg_pool_acquisitions_total', 'Successful connection checkouts', 'counter', pool => [[{}, pool.acquisitions]]),
	perPool('msdb_pg_pool_acquire_errors_total', 'Checkouts that failed (connect error or connect timeout)', 'counter', pool => [[{}, pool.acquireErrors]]),
	latencyFamily('msdb_pg_pool_acquire_seconds', 'Time from asking the pool for a connection to holding it', pool => pool.acquireLatency),
	latencyFamily('msdb_pg_query_duration_seconds', 'Duration of statements run through the pool (failed ones included)', pool => pool.queryLatency),
	perPool('msdb_pg_query_errors_total', 'Statements that failed', 'counter', pool => [[{}, pool.queryErrors]]),
	gaugeFamily<Member>(
		'msdb_pg_replica_routing',
		'Where replica reads go now: 1 for the current target (replica or primary), 0 for the other',
		member => {
			const replica = member.source.stats().replica;
			return replica
				? [
						[{target: 'replica'}, replica.target === 'replica' ? 1 : 0],
						[{target: 'primary'}, replica.target === 'primary' ? 1 : 0],
					]
				: [];
		},
		member => member.labels,
	),
	gaugeFamily<Member>(
		'msdb_pg_replica_lag_seconds',
		'Replay lag of the replica at the last check (no sample while unknown)',
		member => {
			const lagMs = member.source.stats().replica?.lagMs;
			return lagMs === undefined || lagMs === null ? [] : [[{}, lagMs / 1000]];
		},
		member => member.labels,
	),
	counterFamily<Member>(
		'msdb_pg_replica_fallbacks_total',
		'Reads that asked for the replica and were sent to the primary',
		member => {
			const replica = member.source.stats().replica;
			return replica ? [[{}, replica.fallbacks]] : [];
		},
		member => member.labels,
	),
];

/**
 * Registers the pools' metrics in `registry` (a registry the caller owns, never prom-client's
 * global default). Several pool sets may share a registry when each has its own `instance`.
 * Returns the function that removes them again.
 */
export function registerPoolMetrics(pools: PoolStatsSource, registry: Registry, options: PoolMetricsOptions = {}): () => void {
	const labels: Record<string, string> = options.instance === undefined ? {} : {instance: options.instance};
	refuseDuplicateInstance(membersOf(registry, FAMILIES), options.instance, 'registerPoolMetrics');
	return registerMember(registry, FAMILIES, {source: pools, labels});
}
