/**
 * Reads the heartbeats of every live process of an environment and adds them up: what the
 * console's pool and cache panels and `msdb metrics` show for the fleet as a whole.
 *
 * One script call prunes the index of instances whose snapshot has expired (by the server's
 * clock) and lists the rest; one MGET per 500 instances fetches their snapshots. All fleet keys
 * share a hash tag, so both work on a cluster (fleet-keyspace.ts). An instance whose snapshot is
 * gone by the time of the MGET (it stopped in between) is simply not there; a snapshot that is
 * not JSON or not a format this version knows (a newer msdb in a rolling upgrade, a stray write)
 * is left out and counted in `skipped`, never fatal to the read.
 */
import {z} from 'zod';
import type {BreakerState} from '../cache/circuit-breaker.js';
import {POOL_ROLES, type PoolRole} from '../pools/pool-stats.js';
import {keyEnvironment} from '../redis/key-names.js';
import {LuaScript} from '../redis/lua-script.js';
import type {RedisClient} from '../redis/redis-client.js';
import {REDIS_ROLES, type RedisRole} from '../redis/redis-config.js';
import {FleetKeyspace} from './fleet-keyspace.js';
import type {CacheHeartbeat, HeartbeatSnapshot, PoolHeartbeat, RedisRoleHeartbeat} from './heartbeat-snapshot.js';

/** Which fleet to read. */
export type ReadFleetOptions = {
	/** The `<env>` of key names (default MSDB_ENV, else `dev`). */
	env?: string;
};

/** One pool role summed over the instances that have it. */
export type FleetPoolTotals = Omit<PoolHeartbeat, 'role'> & {role: PoolRole; instances: number};

/** One cache namespace summed over every instance of it (a process may hold several). */
export type FleetCacheTotals = {
	namespace: string;
	/** Cache instances (not processes) of this namespace. */
	instances: number;
	l1: {hits: number; misses: number; entries: number; bytes: number; hitRatio: number | null};
	l2: {
		hits: number;
		misses: number;
		unavailable: number;
		/** hits / (hits + misses); null before any L2 read. */
		hitRatio: number | null;
		/** How many instances see their L2 breaker in each state. */
		breakers: Record<BreakerState, number>;
	};
	l3: {loads: number; loadErrors: number};
};

/** One Redis role summed over the instances that opened it. */
export type FleetRedisTotals = {
	role: RedisRole;
	instances: number;
	/** Instances whose connection was ready when they published. */
	connected: number;
	commands: {ok: number; error: number; timeout: number};
	commandMsSum: number;
};

/** The fleet added up: what the console's pool and cache panels show. */
export type FleetTotals = {
	instances: number;
	/** In POOL_ROLES order; roles no instance has are left out. */
	pools: FleetPoolTotals[];
	/** By namespace. */
	caches: FleetCacheTotals[];
	/** In REDIS_ROLES order; roles no instance opened are left out. */
	redis: FleetRedisTotals[];
};

/** The live fleet of one environment. */
export type FleetReading = {
	env: string;
	/** Sorted by service, host, pid. */
	instances: HeartbeatSnapshot[];
	totals: FleetTotals;
	/** Snapshots left out: not JSON, or a format this version does not know. */
	skipped: number;
	/** ISO time of the read. */
	readAt: string;
};

// Expired entries are those whose expiry (score) has passed on the server's clock, the clock
// their keys' PX expiry runs on.
const PRUNE_AND_LIST = new LuaScript(
	'msdb:fleet:list',
	`local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
return redis.call('ZRANGE', KEYS[1], 0, -1)`,
);

// Keys per MGET: keeps one reply (and the time the server spends on it) bounded on a large fleet.
const MGET_CHUNK = 500;

const count = z.number();
const poolSchema = z.object({
	role: z.string(),
	max: count,
	total: count,
	idle: count,
	waiting: count,
	acquisitions: count,
	acquireErrors: count,
	acquireMsSum: count,
	queries: count,
	queryErrors: count,
	queryMsSum: count,
});
const cacheSchema = z.object({
	namespace: z.string(),
	l1: z.object({hits: count, misses: count, entries: count, bytes: count}),
	l2: z.object({hits: count, misses: count, unavailable: count, breaker: z.enum(['closed', 'open', 'half-open'])}),
	l3: z.object({loads: count, loadErrors: count}),
});
const redisSchema = z.object({
	role: z.string(),
	connected: z.boolean(),
	commands: z.object({ok: count, error: count, timeout: count}),
	commandMsSum: count,
});
const snapshotSchema = z.object({
	format: z.literal(1),
	instanceId: z.string(),
	service: z.string(),
	host: z.string(),
	pid: z.number().int(),
	version: z.string(),
	startedAt: z.string(),
	publishedAt: z.string(),
	intervalMs: count,
	pools: z.array(poolSchema),
	caches: z.array(cacheSchema),
	redis: z.array(redisSchema),
});

const POOL_ROLE_SET: ReadonlySet<string> = new Set(POOL_ROLES);
const REDIS_ROLE_SET: ReadonlySet<string> = new Set(REDIS_ROLES);

/** Reads and sums the live heartbeats of environment `env` (see the file comment). */
export async function readFleet(client: RedisClient, options: ReadFleetOptions = {}): Promise<FleetReading> {
	const env = options.env ?? keyEnvironment();
	const keyspace = new FleetKeyspace(env);
	const ids = (await PRUNE_AND_LIST.run(client, [keyspace.indexKey], [])) as string[];
	const instances: HeartbeatSnapshot[] = [];
	let skipped = 0;
	for (let start = 0; start < ids.length; start += MGET_CHUNK) {
		const keys = ids.slice(start, start + MGET_CHUNK).map(id => keyspace.instance(id));
		for (const text of await client.mget(keys)) {
			if (text === null) {
				continue;
			}

			const snapshot = parseSnapshot(text);
			if (snapshot) {
				instances.push(snapshot);
			} else {
				skipped++;
			}
		}
	}

	instances.sort(compareInstances);
	return {env, instances, totals: fleetTotals(instances), skipped, readAt: new Date().toISOString()};
}

/**
 * A snapshot as published, or undefined when it is not one this version can read. Entries of
 * roles this version does not know (a newer msdb added one) are dropped, not the whole snapshot.
 */
export function parseSnapshot(text: string): HeartbeatSnapshot | undefined {
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		return undefined;
	}

	const parsed = snapshotSchema.safeParse(value);
	if (!parsed.success) {
		return undefined;
	}

	const snapshot = parsed.data;
	return {
		...snapshot,
		pools: snapshot.pools.filter((pool): pool is PoolHeartbeat => POOL_ROLE_SET.has(pool.role)),
		caches: snapshot.caches satisfies CacheHeartbeat[],
		redis: snapshot.redis.filter((role): role is RedisRoleHeartbeat => REDIS_ROLE_SET.has(role.role)),
	};
}

/** Sums of the instances' pools, caches and Redis roles. */
export function fleetTotals(instances: readonly HeartbeatSnapshot[]): FleetTotals {
	const pools = new Map<PoolRole, FleetPoolTotals>();
	const caches = new Map<string, FleetCacheTotals>();
	const redis = new Map<RedisRole, FleetRedisTotals>();
	for (const instance of instances) {
		for (const pool of instance.pools) {
			addPool(pools, pool);
		}

		for (const cache of instance.caches) {
			addCache(caches, cache);
		}

		for (const role of instance.redis) {
			addRedis(redis, role);
		}
	}

	for (const cache of caches.values()) {
		cache.l1.hitRatio = ratio(cache.l1.hits, cache.l1.misses);
		cache.l2.hitRatio = ratio(cache.l2.hits, cache.l2.misses);
	}

	return {
		instances: instances.length,
		pools: POOL_ROLES.flatMap(role => pools.get(role) ?? []),
		caches: [...caches.values()].sort((a, b) => compareText(a.namespace, b.namespace)),
		redis: REDIS_ROLES.flatMap(role => redis.get(role) ?? []),
	};
}

function addPool(totals: Map<PoolRole, FleetPoolTotals>, pool: PoolHeartbeat): void {
	const sum = totals.get(pool.role);
	if (!sum) {
		totals.set(pool.role, {...pool, instances: 1});
		return;
	}

	sum.instances++;
	sum.max += pool.max;
	sum.total += pool.total;
	sum.idle += pool.idle;
	sum.waiting += pool.waiting;
	sum.acquisitions += pool.acquisitions;
	sum.acquireErrors += pool.acquireErrors;
	sum.acquireMsSum += pool.acquireMsSum;
	sum.queries += pool.queries;
	sum.queryErrors += pool.queryErrors;
	sum.queryMsSum += pool.queryMsSum;
}

function addCache(totals: Map<string, FleetCacheTotals>, cache: CacheHeartbeat): void {
	let sum = totals.get(cache.namespace);
	if (!sum) {
		sum = {
			namespace: cache.namespace,
			instances: 0,
			l1: {hits: 0, misses: 0, entries: 0, bytes: 0, hitRatio: null},
			l2: {hits: 0, misses: 0, unavailable: 0, hitRatio: null, breakers: {closed: 0, open: 0, 'half-open': 0}},
			l3: {loads: 0, loadErrors: 0},
		};
		totals.set(cache.namespace, sum);
	}

	sum.instances++;
	addCacheCounters(sum, cache);
	sum.l2.breakers[cache.l2.breaker]++;
}

/** The counters of a cache heartbeat, as a sum over several caches holds them. */
export type CacheCounterSum = {
	l1: CacheHeartbeat['l1'];
	l2: Omit<CacheHeartbeat['l2'], 'breaker'>;
	l3: CacheHeartbeat['l3'];
};

/**
 * Adds `cache`'s counters and L1 size into `sum`. Shared by the fleet totals and `msdb metrics`
 * (per process), so a counter added to the heartbeat is summed the same way in both.
 */
export function addCacheCounters(sum: CacheCounterSum, cache: CacheHeartbeat): void {
	sum.l1.hits += cache.l1.hits;
	sum.l1.misses += cache.l1.misses;
	sum.l1.entries += cache.l1.entries;
	sum.l1.bytes += cache.l1.bytes;
	sum.l2.hits += cache.l2.hits;
	sum.l2.misses += cache.l2.misses;
	sum.l2.unavailable += cache.l2.unavailable;
	sum.l3.loads += cache.l3.loads;
	sum.l3.loadErrors += cache.l3.loadErrors;
}

function addRedis(totals: Map<RedisRole, FleetRedisTotals>, role: RedisRoleHeartbeat): void {
	const sum = totals.get(role.role);
	if (!sum) {
		totals.set(role.role, {
			role: role.role,
			instances: 1,
			connected: role.connected ? 1 : 0,
			commands: {...role.commands},
			commandMsSum: role.commandMsSum,
		});
		return;
	}

	sum.instances++;
	sum.connected += role.connected ? 1 : 0;
	sum.commands.ok += role.commands.ok;
	sum.commands.error += role.commands.error;
	sum.commands.timeout += role.commands.timeout;
	sum.commandMsSum += role.commandMsSum;
}

function ratio(hits: number, misses: number): number | null {
	return hits + misses === 0 ? null : hits / (hits + misses);
}

function compareInstances(a: HeartbeatSnapshot, b: HeartbeatSnapshot): number {
	return compareText(a.service, b.service) || compareText(a.host, b.host) || a.pid - b.pid || compareText(a.instanceId, b.instanceId);
}

// Code-unit order, not locale order: the same on every machine, so tests and scripts can rely on it.
function compareText(a: string, b: string): number {
	return a < b ? -1 : a > b ? 1 : 0;
}
