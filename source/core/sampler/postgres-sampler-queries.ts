/**
 * The SQL behind the PostgreSQL gauges, kept together as data (the pg_activity way): one
 * statement per figure, sent together as one simple-protocol string (see
 * {@link POSTGRES_SAMPLE_SQL}).
 *
 * Rules every statement follows:
 * - only client backends count (`backend_type = 'client backend'`): autovacuum workers, the WAL
 *   writer, walsenders and parallel workers are the server's own business, not connections a
 *   DBA hands out;
 * - the sampler's own backend is left out (`pid <> pg_backend_pid()`), so watching the server
 *   does not change what is watched;
 * - counters are cast to float8: bigint arrives in JavaScript as a string, and these counters
 *   stay far below 2^53.
 *
 * Works on PostgreSQL 13–17 (tested on 15). Figures the sampler's role may not see (other
 * users' sessions without pg_read_all_stats, pg_stat_replication columns) come back NULL and
 * are reported as unknown, never as an error.
 */

/** Longest query text fetched; the sample truncates further after collapsing whitespace. */
const QUERY_TEXT_FETCH_LENGTH = 400;

/** Lock waiters listed one by one (all of them are counted). */
export const LOCK_WAITS_LISTED = 20;

const CLIENT_BACKENDS_BUT_MINE = `backend_type = 'client backend' AND pid <> pg_backend_pid()`;

/** The statements of one sample, by name; each returns the columns its row type names. */
export const POSTGRES_SAMPLER_QUERIES = {
	/** Limits and identity; one row. `reserved_connections` exists from PostgreSQL 16. */
	server: `SELECT
	pg_backend_pid() AS sampler_pid,
	current_setting('server_version') AS server_version,
	current_setting('max_connections')::int AS max_connections,
	current_setting('superuser_reserved_connections')::int
		+ coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0) AS reserved_connections,
	pg_is_in_recovery() AS in_recovery,
	extract(epoch FROM clock_timestamp())::float8 * 1000 AS server_time_ms`,

	/** Connections per application_name and state, and how many of them wait on a heavyweight lock. */
	connections: `SELECT
	coalesce(application_name, '') AS application_name,
	state,
	count(*)::int AS connections,
	count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS waiting_on_locks
FROM pg_stat_activity
WHERE ${CLIENT_BACKENDS_BUT_MINE}
GROUP BY 1, 2`,

	/**
	 * Cumulative counters of every database (datid 0 is the shared catalogs). Rates come from the
	 * difference to the previous sample, per database, because databases come and go between
	 * samples and a sum over all of them would jump when one is dropped.
	 */
	databases: `SELECT
	datid::text AS datid,
	coalesce(xact_commit, 0)::float8 AS commits,
	coalesce(xact_rollback, 0)::float8 AS rollbacks,
	coalesce(blks_hit, 0)::float8 AS blocks_hit,
	coalesce(blks_read, 0)::float8 AS blocks_read
FROM pg_stat_database`,

	/** The statement running longest right now (a statement waiting on a lock is running too). */
	longestQuery: `SELECT
	pid,
	coalesce(application_name, '') AS application_name,
	datname AS database,
	state,
	extract(epoch FROM clock_timestamp() - query_start)::float8 * 1000 AS duration_ms,
	left(query, ${QUERY_TEXT_FETCH_LENGTH}) AS query
FROM pg_stat_activity
WHERE ${CLIENT_BACKENDS_BUT_MINE} AND state IN ('active', 'fastpath function call') AND query_start IS NOT NULL
ORDER BY query_start
LIMIT 1`,

	/**
	 * Sessions waiting on a heavyweight lock (row, table, advisory), longest first, with who
	 * blocks them. PostgreSQL does not record when a wait began; the duration is that of the
	 * waiting statement. pg_blocking_pids() briefly locks the lock manager, which is why it is
	 * only asked about sessions that are waiting.
	 */
	lockWaits: `SELECT
	pid,
	coalesce(application_name, '') AS application_name,
	datname AS database,
	wait_event,
	pg_blocking_pids(pid) AS blocked_by,
	extract(epoch FROM clock_timestamp() - query_start)::float8 * 1000 AS duration_ms,
	left(query, ${QUERY_TEXT_FETCH_LENGTH}) AS query,
	count(*) OVER ()::int AS total
FROM pg_stat_activity
WHERE ${CLIENT_BACKENDS_BUT_MINE} AND wait_event_type = 'Lock'
ORDER BY query_start
LIMIT ${LOCK_WAITS_LISTED}`,

	/**
	 * Standbys streaming from this server (a standby can have its own, cascading). The byte lag
	 * is measured against what this server has written (a primary) or replayed (a standby).
	 */
	replicas: `SELECT
	coalesce(application_name, '') AS application_name,
	host(client_addr) AS client_address,
	state,
	sync_state,
	extract(epoch FROM replay_lag)::float8 * 1000 AS replay_lag_ms,
	pg_wal_lsn_diff(
		CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END,
		replay_lsn
	)::float8 AS replay_lag_bytes
FROM pg_stat_replication
ORDER BY application_name, pid`,

	/**
	 * This server's own lag when it is a standby (NULLs on a primary). A standby that has replayed
	 * everything it received is not behind, however old its last replayed transaction: on a quiet
	 * primary now() − pg_last_xact_replay_timestamp() grows without any lag.
	 */
	standby: `SELECT
	CASE
		WHEN NOT pg_is_in_recovery() THEN NULL
		WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
		ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 * 1000
	END AS replay_lag_ms,
	CASE
		WHEN pg_is_in_recovery() THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8
	END AS replay_lag_bytes`,
} as const;

/** The order the statements run in and their results come back in. */
export const POSTGRES_SAMPLER_QUERY_ORDER = Object.keys(POSTGRES_SAMPLER_QUERIES) as Array<keyof typeof POSTGRES_SAMPLER_QUERIES>;

/**
 * All statements as one simple-protocol string: one round trip, and one implicit transaction,
 * so every figure comes from the same statistics snapshot (stats_fetch_consistency) and the
 * sampler adds exactly one commit per sample to the counters it reports (which the sample
 * subtracts again).
 */
export const POSTGRES_SAMPLE_SQL = POSTGRES_SAMPLER_QUERY_ORDER.map(name => POSTGRES_SAMPLER_QUERIES[name]).join(';\n');

/** Session settings of the sampler's connection: a sample must never hang or wait on a lock. */
export const POSTGRES_SAMPLER_SESSION_SQL = `SET statement_timeout = '5s'; SET lock_timeout = '1s'`;

/** Row of {@link POSTGRES_SAMPLER_QUERIES}.server. */
export type ServerRow = {
	sampler_pid: number;
	server_version: string;
	max_connections: number;
	reserved_connections: number;
	in_recovery: boolean;
	server_time_ms: number;
};

/** Row of {@link POSTGRES_SAMPLER_QUERIES}.connections. */
export type ConnectionsRow = {application_name: string; state: string | null; connections: number; waiting_on_locks: number};

/** Row of {@link POSTGRES_SAMPLER_QUERIES}.databases. */
export type DatabaseRow = {datid: string; commits: number; rollbacks: number; blocks_hit: number; blocks_read: number};

/** Row of {@link POSTGRES_SAMPLER_QUERIES}.longestQuery. */
export type LongestQueryRow = {
	pid: number;
	application_name: string;
	database: string | null;
	state: string;
	duration_ms: number;
	query: string | null;
};

/** Row of {@link POSTGRES_SAMPLER_QUERIES}.lockWaits. */
export type LockWaitRow = {
	pid: number;
	application_name: string;
	database: string | null;
	wait_event: string | null;
	blocked_by: number[];
	duration_ms: number | null;
	query: string | null;
	total: number;
};

/** Row of {@link POSTGRES_SAMPLER_QUERIES}.replicas. */
export type ReplicaRow = {
	application_name: string;
	client_address: string | null;
	state: string | null;
	sync_state: string | null;
	replay_lag_ms: number | null;
	replay_lag_bytes: number | null;
};

/** Row of {@link POSTGRES_SAMPLER_QUERIES}.standby. */
export type StandbyRow = {replay_lag_ms: number | null; replay_lag_bytes: number | null};
