import type {BreakerState} from '../cache/circuit-breaker.js';
import type {PoolRole} from '../pools/pool-stats.js';
import type {RedisRole} from '../redis/redis-config.js';

/**
 * What one framework process publishes into Redis every few seconds (`HeartbeatPublisher`), and
 * what the fleet reader, `msdb metrics` and the console's pool and cache panels aggregate.
 * Compact on purpose: counters and gauges only (sums and counts instead of histograms), so a
 * fleet of hundreds of processes stays a few hundred kB per read.
 */
export type HeartbeatSnapshot = {
	/** Format of this object; readers skip versions they do not know. */
	format: 1;
	/** Unique per process start (`<host>:<pid>:<random>`). */
	instanceId: string;
	/** What the process is (`agent-runtime`, `msdb worker`, `msdb load` …). */
	service: string;
	host: string;
	pid: number;
	/** mister-smith-db version the process runs. */
	version: string;
	/** ISO times. */
	startedAt: string;
	publishedAt: string;
	/** How often this process publishes; its snapshot expires after 3 intervals without one. */
	intervalMs: number;
	pools: PoolHeartbeat[];
	caches: CacheHeartbeat[];
	redis: RedisRoleHeartbeat[];
};

export type PoolHeartbeat = {
	role: PoolRole;
	max: number;
	total: number;
	idle: number;
	waiting: number;
	acquisitions: number;
	acquireErrors: number;
	/** Sum of acquisition times, ms (average = acquireMsSum / acquisitions). */
	acquireMsSum: number;
	queries: number;
	queryErrors: number;
	queryMsSum: number;
};

export type CacheHeartbeat = {
	namespace: string;
	l1: {hits: number; misses: number; entries: number; bytes: number};
	l2: {hits: number; misses: number; unavailable: number; breaker: BreakerState};
	l3: {loads: number; loadErrors: number};
};

export type RedisRoleHeartbeat = {
	role: RedisRole;
	connected: boolean;
	commands: {ok: number; error: number; timeout: number};
	/** Sum of command latencies, ms. */
	commandMsSum: number;
};
