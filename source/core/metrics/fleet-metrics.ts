/**
 * The fleet's heartbeats (fleet-reader.ts) as Prometheus series, one set per live process: what
 * `msdb metrics` exports, an exporter that has no framework pools or caches of its own. Read
 * through a {@link ScrapeSource} (`msdb_scrape_source_up{source="fleet"}`), reused for a second
 * so a scrape and a health probe share one read.
 *
 * The names differ from the in-process families (msdb_pg_pool_*, msdb_cache_*) on purpose:
 * heartbeats carry sums and counts, not buckets, so the types differ (a `_seconds_total` sum
 * instead of a histogram), and the prefix says where the numbers come from. A process exports
 * either its own registry or its heartbeat; never add both up.
 *
 * Every per-process series is labelled instance (the heartbeat's instanceId, unique per process
 * start: `<host>:<pid>:<random>`), service and host. Prometheus' own `instance` target label
 * collides with it: scrape with `honor_labels: true` (as for a federation or a Pushgateway) so
 * the process's instance wins, or Prometheus renames it to `exported_instance`.
 *
 *   msdb_fleet_instances                                     gauge: live processes (no labels)
 *   msdb_fleet_snapshots_skipped                             gauge: heartbeats in a format this version cannot read
 *   msdb_fleet_instance_info{version,pid}                    gauge, always 1
 *   msdb_fleet_instance_start_time_seconds                   gauge
 *   msdb_fleet_pg_pool_connections{role,state}               gauge: idle | busy
 *   msdb_fleet_pg_pool_max_connections{role}                 gauge
 *   msdb_fleet_pg_pool_waiting_clients{role}                 gauge
 *   msdb_fleet_pg_pool_acquisitions_total{role}              counter
 *   msdb_fleet_pg_pool_acquire_errors_total{role}            counter
 *   msdb_fleet_pg_pool_acquire_seconds_total{role}           counter: sum of checkout times
 *   msdb_fleet_pg_queries_total{role}                        counter
 *   msdb_fleet_pg_query_errors_total{role}                   counter
 *   msdb_fleet_pg_query_seconds_total{role}                  counter: sum of statement times (mean = rate(sum) / rate(queries))
 *   msdb_fleet_cache_hits_total{namespace,level}             counter: level l1 | l2
 *   msdb_fleet_cache_misses_total{namespace,level}           counter
 *   msdb_fleet_cache_l2_unavailable_total{namespace}         counter: L2 reads with no answer (deadline, error, breaker open)
 *   msdb_fleet_cache_loads_total{namespace}                  counter: loader (L3) calls
 *   msdb_fleet_cache_load_errors_total{namespace}            counter
 *   msdb_fleet_cache_breaker_state{namespace}                gauge: 0 closed, 1 half-open, 2 open
 *   msdb_fleet_cache_l1_entries{namespace}                   gauge
 *   msdb_fleet_redis_commands_total{role,outcome}            counter: ok | error | timeout
 *   msdb_fleet_redis_command_seconds_total{role}             counter: sum of command times
 *   msdb_fleet_redis_connected{role}                         gauge
 * Counters run from the process's start; a restarted process is a new instance (new series).
 */
import type {Registry} from 'prom-client';
import type {BreakerState} from '../cache/circuit-breaker.js';
import {ActionableError} from '../errors.js';
import {addCacheCounters, readFleet, type FleetReading} from '../fleet/fleet-reader.js';
import type {CacheHeartbeat, HeartbeatSnapshot} from '../fleet/heartbeat-snapshot.js';
import type {RedisClient} from '../redis/redis-client.js';
import {isRedisUnreachable} from '../redis/with-redis-role.js';
import {membersOf, registerMember, type LabelledValues, type MetricFamily, type MetricType} from './collected-metric.js';
import {registerScrapeSource, ScrapeSource, type ScrapeSourceOptions} from './scrape-source.js';

/** Default reuse of a fleet reading: heartbeats arrive every few seconds. */
export const DEFAULT_FLEET_MAX_AGE_MS = 1000;

/** Where the heartbeats are. */
export type FleetMetricsOptions = ScrapeSourceOptions & {
	/** The `<env>` of key names (default MSDB_ENV, else `dev`). */
	env?: string;
	/** How to name the Redis server in errors (a redacted URL), e.g. `redis://cache.internal:6379`. */
	server?: string;
};

type Source = ScrapeSource<FleetReading>;

const BREAKER_STATE_VALUE: Record<BreakerState, number> = {closed: 0, 'half-open': 1, open: 2};

/** Per-instance series: `values` gives the extra labels and values of one process. */
function perInstance(type: MetricType, name: string, help: string, values: (instance: HeartbeatSnapshot) => LabelledValues): MetricFamily<Source> {
	return {
		name,
		help,
		type,
		async samples(source) {
			const fleet = (await source.read()).value;
			return (fleet?.instances ?? []).flatMap(instance => {
				const labels = {instance: instance.instanceId, service: instance.service, host: instance.host};
				return values(instance).map(([extra, value]) => ({labels: {...labels, ...extra}, value}));
			});
		},
	};
}

function fleetWide(name: string, help: string, value: (fleet: FleetReading) => number): MetricFamily<Source> {
	return {
		name,
		help,
		type: 'gauge',
		async samples(source) {
			const fleet = (await source.read()).value;
			return fleet ? [{labels: {}, value: value(fleet)}] : [];
		},
	};
}

/**
 * A process's caches by namespace: a process may hold several instances of one namespace, and
 * two series with one label set would make Prometheus reject the scrape. Counters add up; the
 * breaker shows the worst state.
 */
function cachesByNamespace(instance: HeartbeatSnapshot): CacheHeartbeat[] {
	const merged = new Map<string, CacheHeartbeat>();
	for (const cache of instance.caches) {
		const sum = merged.get(cache.namespace);
		if (!sum) {
			merged.set(cache.namespace, {namespace: cache.namespace, l1: {...cache.l1}, l2: {...cache.l2}, l3: {...cache.l3}});
			continue;
		}

		addCacheCounters(sum, cache);
		if (BREAKER_STATE_VALUE[cache.l2.breaker] > BREAKER_STATE_VALUE[sum.l2.breaker]) {
			sum.l2.breaker = cache.l2.breaker;
		}
	}

	return [...merged.values()];
}

const pools = (type: MetricType, name: string, help: string, value: (pool: HeartbeatSnapshot['pools'][number]) => number) =>
	perInstance(type, name, help, instance => instance.pools.map(pool => [{role: pool.role}, value(pool)]));
const caches = (type: MetricType, name: string, help: string, values: (cache: CacheHeartbeat) => LabelledValues) =>
	perInstance(type, name, help, instance => cachesByNamespace(instance).flatMap(cache => values(cache).map(([extra, value]): [Record<string, string>, number] => [{namespace: cache.namespace, ...extra}, value])));

const FAMILIES: ReadonlyArray<MetricFamily<Source>> = [
	fleetWide('msdb_fleet_instances', 'Live processes publishing heartbeats', fleet => fleet.instances.length),
	fleetWide('msdb_fleet_snapshots_skipped', 'Heartbeats left out: not JSON, or a format this msdb cannot read (a newer version in a rolling upgrade)', fleet => fleet.skipped),
	perInstance('gauge', 'msdb_fleet_instance_info', 'A live process: its msdb version and pid (always 1)', instance => [[{version: instance.version, pid: String(instance.pid)}, 1]]),
	perInstance('gauge', 'msdb_fleet_instance_start_time_seconds', 'When the process started (Unix time)', instance => [[{}, Date.parse(instance.startedAt) / 1000]]),
	perInstance('gauge', 'msdb_fleet_pg_pool_connections', 'Open connections of the process\'s pool, idle or busy', instance =>
		instance.pools.flatMap((pool): LabelledValues => [
			[{role: pool.role, state: 'idle'}, pool.idle],
			[{role: pool.role, state: 'busy'}, Math.max(0, pool.total - pool.idle)],
		]),
	),
	pools('gauge', 'msdb_fleet_pg_pool_max_connections', 'Largest number of connections the pool may open', pool => pool.max),
	pools('gauge', 'msdb_fleet_pg_pool_waiting_clients', 'Callers waiting for a connection of the pool', pool => pool.waiting),
	pools('counter', 'msdb_fleet_pg_pool_acquisitions_total', 'Successful connection checkouts', pool => pool.acquisitions),
	pools('counter', 'msdb_fleet_pg_pool_acquire_errors_total', 'Checkouts that failed', pool => pool.acquireErrors),
	pools('counter', 'msdb_fleet_pg_pool_acquire_seconds_total', 'Sum of checkout times', pool => pool.acquireMsSum / 1000),
	pools('counter', 'msdb_fleet_pg_queries_total', 'Statements run through the pool', pool => pool.queries),
	pools('counter', 'msdb_fleet_pg_query_errors_total', 'Statements that failed', pool => pool.queryErrors),
	pools('counter', 'msdb_fleet_pg_query_seconds_total', 'Sum of statement times', pool => pool.queryMsSum / 1000),
	caches('counter', 'msdb_fleet_cache_hits_total', 'Cache reads answered by a level', cache => [
		[{level: 'l1'}, cache.l1.hits],
		[{level: 'l2'}, cache.l2.hits],
	]),
	caches('counter', 'msdb_fleet_cache_misses_total', 'Cache reads a level could not answer', cache => [
		[{level: 'l1'}, cache.l1.misses],
		[{level: 'l2'}, cache.l2.misses],
	]),
	caches('counter', 'msdb_fleet_cache_l2_unavailable_total', 'L2 reads that got no answer (deadline, error, breaker open, not connected)', cache => [[{}, cache.l2.unavailable]]),
	caches('counter', 'msdb_fleet_cache_loads_total', 'Loader (L3) calls', cache => [[{}, cache.l3.loads]]),
	caches('counter', 'msdb_fleet_cache_load_errors_total', 'Loader calls that threw', cache => [[{}, cache.l3.loadErrors]]),
	caches('gauge', 'msdb_fleet_cache_breaker_state', 'L2 circuit breaker: 0 closed, 1 half-open, 2 open (the worst of the process\'s instances)', cache => [[{}, BREAKER_STATE_VALUE[cache.l2.breaker]]]),
	caches('gauge', 'msdb_fleet_cache_l1_entries', 'Entries in L1', cache => [[{}, cache.l1.entries]]),
	perInstance('counter', 'msdb_fleet_redis_commands_total', 'Redis commands of the process by role and outcome', instance =>
		instance.redis.flatMap((role): LabelledValues => [
			[{role: role.role, outcome: 'ok'}, role.commands.ok],
			[{role: role.role, outcome: 'error'}, role.commands.error],
			[{role: role.role, outcome: 'timeout'}, role.commands.timeout],
		]),
	),
	perInstance('counter', 'msdb_fleet_redis_command_seconds_total', 'Sum of Redis command times', instance => instance.redis.map(role => [{role: role.role}, role.commandMsSum / 1000])),
	perInstance('gauge', 'msdb_fleet_redis_connected', '1 while the role connection was ready at the last heartbeat', instance => instance.redis.map(role => [{role: role.role}, role.connected ? 1 : 0])),
];

/**
 * Registers the fleet series and the `fleet` source's up gauge in `registry`, reading heartbeats
 * with `client` (any role's connection to the Redis the processes publish to); returns the
 * source (for health checks). One fleet per registry.
 */
export function registerFleetMetrics(client: RedisClient, registry: Registry, options: FleetMetricsOptions = {}): ScrapeSource<FleetReading> {
	if (membersOf(registry, FAMILIES).length > 0) {
		throw new ActionableError('E_CONFIG_INVALID', 'registerFleetMetrics: this registry already exports a fleet.', {nextStep: 'Use one registry per fleet (environment).'});
	}

	const {env, server} = options;
	const read = async () => {
		try {
			return await readFleet(client, env === undefined ? {} : {env});
		} catch (error) {
			// ioredis' own words ("max retries per request") do not say which server or why it matters.
			throw isRedisUnreachable(error) ? new Error(`Redis${server === undefined ? '' : ` at ${server}`} did not answer reading the heartbeats: ${(error as Error).message}`) : error;
		}
	};

	const source = new ScrapeSource<FleetReading>('fleet', read, {
		...options,
		maxAgeMs: options.maxAgeMs ?? DEFAULT_FLEET_MAX_AGE_MS,
	});
	registerMember(registry, FAMILIES, source);
	registerScrapeSource(source as ScrapeSource<unknown>, registry);
	return source;
}
