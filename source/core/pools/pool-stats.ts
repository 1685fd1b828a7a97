import type {LatencySummary} from '../metrics/latency-histogram.js';

/**
 * The PostgreSQL pool roles. Each role is its own pg.Pool with `application_name = msdb:<role>`,
 * so pg_stat_activity shows which part of the framework holds which connections:
 * - primary: reads and writes of request handling;
 * - replica: reads that tolerate bounded lag (falls back to primary when the replica lags or is down);
 * - background: the worker's duties (partition upkeep, cleanup);
 * - analytics: long reports that must not starve request handling;
 * - streaming: long-lived connections (LISTEN, cursors, COPY).
 */
export const POOL_ROLES = ['primary', 'replica', 'background', 'analytics', 'streaming'] as const;

export type PoolRole = (typeof POOL_ROLES)[number];

/** One pool at one moment: what the metrics, the heartbeat and the console show. */
export type PoolStats = {
	role: PoolRole;
	/** Largest number of connections the pool may open. */
	max: number;
	/** Connections open now (idle + in use). */
	total: number;
	idle: number;
	/** Callers waiting for a connection. */
	waiting: number;
	/** Successful checkouts since the pool was created. */
	acquisitions: number;
	/** Checkouts that failed (connect error or connect timeout). */
	acquireErrors: number;
	/** Time from asking for a connection to holding it. */
	acquireLatency: LatencySummary;
	/** Queries run through the pool's query helpers. */
	queries: number;
	queryErrors: number;
	queryLatency: LatencySummary;
};

/** Where replica reads go now, and why. */
export type ReplicaRoutingStats = {
	/** `replica` while the replica is up and within the lag threshold; `primary` otherwise. */
	target: 'replica' | 'primary';
	/** The replica's replay lag at the last check, ms; null when unknown (down, or no replica configured). */
	lagMs: number | null;
	lagThresholdMs: number;
	/** Reads sent to the primary although the caller asked for a replica read. */
	fallbacks: number;
	/** Why reads go to the primary now (`lag 12 s > 5 s`, `replica unreachable: …`); undefined while on the replica. */
	reason: string | undefined;
};

export type PoolsStats = {
	pools: PoolStats[];
	/** Undefined when no replica URL is configured (replica reads then simply use the primary). */
	replica: ReplicaRoutingStats | undefined;
};
