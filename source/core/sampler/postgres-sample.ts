/**
 * One reading of a PostgreSQL server's gauges, for the console and `msdb metrics`: connections
 * by state against max_connections, per application_name, transactions per second, buffer
 * cache hit ratio, the longest running statement, lock waits and replication.
 *
 * Scope: the whole server, not the database the sampler is connected to. A DBA watching
 * max_connections or a lock pile-up needs every database's sessions; the connection's database
 * only decides where the sampler's own session sits.
 *
 * Rates (commits/s, hit ratio) need two readings of cumulative counters: pass the previous
 * sample. The first sample has no rates (null) and a cumulative hit ratio. Each backend publishes
 * its counters at the end of a transaction but at most once a second (PostgreSQL 15+), so a rate
 * over a short interval lags the work by up to a second; over several samples it evens out.
 */
import type pg from 'pg';
import {BugError} from '../errors.js';
import {redact} from '../redact.js';
import {
	POSTGRES_SAMPLE_SQL,
	POSTGRES_SAMPLER_QUERY_ORDER,
	type ConnectionsRow,
	type DatabaseRow,
	type LockWaitRow,
	type LongestQueryRow,
	type ReplicaRow,
	type ServerRow,
	type StandbyRow,
} from './postgres-sampler-queries.js';

/** Client connections by pg_stat_activity.state. */
export type ConnectionStates = {
	active: number;
	idle: number;
	idleInTransaction: number;
	idleInTransactionAborted: number;
	fastpath: number;
	disabled: number;
	/** No state visible (another user's session without pg_read_all_stats) or one this version does not know. */
	other: number;
	total: number;
	/** Of `total`, sessions waiting on a heavyweight lock (wait_event_type = 'Lock'). */
	waitingOnLocks: number;
};

/** The connections of one application_name (`''` for sessions that set none). */
export type ApplicationConnections = {applicationName: string} & ConnectionStates;

/** Transactions per second over the time since the previous sample, all databases together. */
export type TransactionRates = {
	commitsPerSecond: number;
	rollbacksPerSecond: number;
	/** Commits counted in the interval, the sampler's own one per sample taken out. */
	commits: number;
	rollbacks: number;
	/** Server time between the two readings, ms. */
	intervalMs: number;
};

/** blks_hit / (blks_hit + blks_read), all databases together. */
export type BufferCacheHitRatio = {
	/** 0–1; null when no block was ever read or hit. */
	ratio: number | null;
	/**
	 * `interval`: since the previous sample. `cumulative`: since the statistics were reset, used
	 * on the first sample and when the interval saw no block access at all.
	 */
	window: 'interval' | 'cumulative';
};

/** A statement in progress. */
export type RunningQuery = {
	pid: number;
	applicationName: string;
	database: string | null;
	state: string;
	durationMs: number;
	/** Whitespace collapsed, at most {@link QUERY_TEXT_LENGTH} characters, credentials masked; null when not visible. */
	query: string | null;
};

/** A session waiting on a heavyweight lock. */
export type LockWait = {
	pid: number;
	applicationName: string;
	database: string | null;
	/** What it waits for: `relation`, `tuple`, `transactionid`, `advisory` … */
	waitEvent: string | null;
	/** The sessions holding (or queued ahead for) the lock, from pg_blocking_pids(). */
	blockedBy: number[];
	/** How long the waiting statement has run, ms (PostgreSQL does not record when the wait began). */
	durationMs: number | null;
	query: string | null;
};

/** A standby streaming from this server. */
export type ReplicaLag = {
	applicationName: string;
	clientAddress: string | null;
	/** `streaming`, `catchup`, `backup` …; null when not visible to the sampler's role. */
	state: string | null;
	syncState: string | null;
	/** replay_lag, ms; null when idle or not visible. */
	replayLagMs: number | null;
	/** WAL written here and not yet replayed there, bytes. */
	replayLagBytes: number | null;
};

/** Where this server stands in replication. */
export type ReplicationStatus = {
	/** True on a standby (pg_is_in_recovery()). */
	inRecovery: boolean;
	/** Standbys streaming from this server. */
	replicas: ReplicaLag[];
	/** A standby's own lag behind its primary, ms (0 once it has replayed all it received); null on a primary. */
	replayLagMs: number | null;
	/** A standby's received but not yet replayed WAL, bytes; null on a primary. */
	replayLagBytes: number | null;
};

/** Cumulative counters of one database, as read. */
export type DatabaseCounters = {commits: number; rollbacks: number; blocksHit: number; blocksRead: number};

/** The raw readings the next sample needs for its rates. */
export type PostgresCounters = {
	/** Server clock at the reading, ms since the epoch. */
	serverTimeMs: number;
	/** Per database oid. */
	databases: Record<string, DatabaseCounters>;
};

/** One reading of a PostgreSQL server. Every count leaves out the sampler's own session. */
export type PostgresSample = {
	/** Server clock at the reading. */
	sampledAt: Date;
	serverVersion: string;
	/** The sampler's own backend, left out of every figure. */
	samplerPid: number;
	/** Client backends of all databases. */
	connections: ConnectionStates;
	maxConnections: number;
	/** Slots ordinary roles cannot take: superuser_reserved_connections (+ reserved_connections from PostgreSQL 16). */
	reservedConnections: number;
	/** Most connections first. */
	applications: ApplicationConnections[];
	/** Null on the first sample (nothing to compare with). */
	transactions: TransactionRates | null;
	bufferCache: BufferCacheHitRatio;
	/** Null when no statement is running. */
	longestQuery: RunningQuery | null;
	lockWaits: {
		/** All sessions waiting on a heavyweight lock. */
		count: number;
		/** The longest waiting, at most 20 (LOCK_WAITS_LISTED). */
		sessions: LockWait[];
	};
	replication: ReplicationStatus;
	counters: PostgresCounters;
};

/** Query text shown per statement; enough to recognise it, short enough for one console line. */
export const QUERY_TEXT_LENGTH = 200;

// CREATE/ALTER ROLE … [ENCRYPTED] PASSWORD 'x', also with doubled quotes inside the literal.
const SQL_PASSWORD_LITERAL = /\b(password)\s+(?:'(?:[^']|'')*'?|"[^"]*"?)/gi;

/** Transactions the sampler itself commits per sample (its statements run as one implicit transaction). */
const SAMPLER_COMMITS_PER_SAMPLE = 1;

/**
 * Takes one sample on `client` (one round trip). `previous` is the sample taken before on the
 * same server, for rates; the client's own session is left out of every figure.
 */
export async function takePostgresSample(client: pg.ClientBase, previous?: PostgresSample): Promise<PostgresSample> {
	// A multi-statement string goes through the simple protocol and resolves to one result per statement.
	const results = (await client.query(POSTGRES_SAMPLE_SQL)) as unknown;
	if (!Array.isArray(results) || results.length !== POSTGRES_SAMPLER_QUERY_ORDER.length) {
		throw new BugError(`The PostgreSQL sample expected ${POSTGRES_SAMPLER_QUERY_ORDER.length} result sets.`);
	}

	const rows = (index: number): unknown[] => (results[index] as pg.QueryResult).rows;
	const [serverRows, connectionRows, databaseRows, longestRows, lockRows, replicaRows, standbyRows] = POSTGRES_SAMPLER_QUERY_ORDER.map((_name, index) => rows(index));
	const server = serverRows?.[0] as ServerRow | undefined;
	const standby = standbyRows?.[0] as StandbyRow | undefined;
	if (!server || !standby) {
		throw new BugError('The PostgreSQL sample came back without its one-row results.');
	}

	const counters: PostgresCounters = {
		serverTimeMs: server.server_time_ms,
		databases: Object.fromEntries(
			(databaseRows as DatabaseRow[]).map(row => [
				row.datid,
				{commits: row.commits, rollbacks: row.rollbacks, blocksHit: row.blocks_hit, blocksRead: row.blocks_read},
			]),
		),
	};
	const {connections, applications} = countConnections(connectionRows as ConnectionsRow[]);
	const lockWaitRows = lockRows as LockWaitRow[];
	const longest = (longestRows as LongestQueryRow[])[0];
	return {
		sampledAt: new Date(server.server_time_ms),
		serverVersion: server.server_version,
		samplerPid: server.sampler_pid,
		connections,
		maxConnections: server.max_connections,
		reservedConnections: server.reserved_connections,
		applications,
		transactions: transactionRates(counters, previous?.counters),
		bufferCache: bufferCacheHitRatio(counters, previous?.counters),
		longestQuery: longest
			? {
					pid: longest.pid,
					applicationName: longest.application_name,
					database: longest.database,
					state: longest.state,
					durationMs: Math.max(0, longest.duration_ms),
					query: displayQuery(longest.query),
				}
			: null,
		lockWaits: {
			count: lockWaitRows[0]?.total ?? 0,
			sessions: lockWaitRows.map(row => ({
				pid: row.pid,
				applicationName: row.application_name,
				database: row.database,
				waitEvent: row.wait_event,
				blockedBy: row.blocked_by,
				durationMs: row.duration_ms === null ? null : Math.max(0, row.duration_ms),
				query: displayQuery(row.query),
			})),
		},
		replication: {
			inRecovery: server.in_recovery,
			replicas: (replicaRows as ReplicaRow[]).map(row => ({
				applicationName: row.application_name,
				clientAddress: row.client_address,
				state: row.state,
				syncState: row.sync_state,
				replayLagMs: row.replay_lag_ms,
				replayLagBytes: row.replay_lag_bytes,
			})),
			replayLagMs: standby.replay_lag_ms === null ? null : Math.max(0, standby.replay_lag_ms),
			replayLagBytes: standby.replay_lag_bytes,
		},
		counters,
	};
}

/** An empty {@link ConnectionStates}. */
export function emptyConnectionStates(): ConnectionStates {
	return {active: 0, idle: 0, idleInTransaction: 0, idleInTransactionAborted: 0, fastpath: 0, disabled: 0, other: 0, total: 0, waitingOnLocks: 0};
}

const STATE_KEYS: Record<string, keyof ConnectionStates> = {
	active: 'active',
	idle: 'idle',
	'idle in transaction': 'idleInTransaction',
	'idle in transaction (aborted)': 'idleInTransactionAborted',
	'fastpath function call': 'fastpath',
	disabled: 'disabled',
};

function countConnections(rows: readonly ConnectionsRow[]): {connections: ConnectionStates; applications: ApplicationConnections[]} {
	const connections = emptyConnectionStates();
	const byApplication = new Map<string, ApplicationConnections>();
	for (const row of rows) {
		let application = byApplication.get(row.application_name);
		if (!application) {
			application = {applicationName: row.application_name, ...emptyConnectionStates()};
			byApplication.set(row.application_name, application);
		}

		const key = (row.state === null ? undefined : STATE_KEYS[row.state]) ?? 'other';
		for (const states of [connections, application]) {
			states[key] += row.connections;
			states.total += row.connections;
			states.waitingOnLocks += row.waiting_on_locks;
		}
	}

	const applications = [...byApplication.values()].sort(
		(a, b) => b.total - a.total || a.applicationName.localeCompare(b.applicationName),
	);
	return {connections, applications};
}

type Deltas = {commits: number; rollbacks: number; blocksHit: number; blocksRead: number};

/**
 * Counter increases per database since `previous`. A database created in between counts from
 * zero; one whose counters went down had its statistics reset and counts from zero too; one
 * dropped in between is gone with what it did (it can no longer be read).
 */
function counterDeltas(current: PostgresCounters, previous: PostgresCounters): Deltas {
	const total: Deltas = {commits: 0, rollbacks: 0, blocksHit: 0, blocksRead: 0};
	for (const [datid, now] of Object.entries(current.databases)) {
		const before = previous.databases[datid];
		for (const key of ['commits', 'rollbacks', 'blocksHit', 'blocksRead'] as const) {
			const base = before?.[key] ?? 0;
			total[key] += now[key] >= base ? now[key] - base : now[key];
		}
	}

	return total;
}

function transactionRates(current: PostgresCounters, previous: PostgresCounters | undefined): TransactionRates | null {
	const intervalMs = previous ? current.serverTimeMs - previous.serverTimeMs : 0;
	if (!previous || intervalMs <= 0) {
		return null;
	}

	const deltas = counterDeltas(current, previous);
	// The previous sample's own transaction is in these counters; it is not the server's work.
	const commits = Math.max(0, deltas.commits - SAMPLER_COMMITS_PER_SAMPLE);
	return {
		commitsPerSecond: (commits * 1000) / intervalMs,
		rollbacksPerSecond: (deltas.rollbacks * 1000) / intervalMs,
		commits,
		rollbacks: deltas.rollbacks,
		intervalMs,
	};
}

function bufferCacheHitRatio(current: PostgresCounters, previous: PostgresCounters | undefined): BufferCacheHitRatio {
	if (previous) {
		const deltas = counterDeltas(current, previous);
		if (deltas.blocksHit + deltas.blocksRead > 0) {
			return {ratio: deltas.blocksHit / (deltas.blocksHit + deltas.blocksRead), window: 'interval'};
		}
	}

	let hit = 0;
	let read = 0;
	for (const counters of Object.values(current.databases)) {
		hit += counters.blocksHit;
		read += counters.blocksRead;
	}

	return {ratio: hit + read > 0 ? hit / (hit + read) : null, window: 'cumulative'};
}

/**
 * Query text fit for a console line. Statement text can hold literals (it is the DBA's own
 * server), but a connection string or password in it (dblink, CREATE ROLE … PASSWORD) is masked.
 */
function displayQuery(query: string | null): string | null {
	if (query === null) {
		return null;
	}

	// redact() knows URLs and password=…; SQL's own form (PASSWORD 'secret') is masked here.
	const collapsed = redact(query.replace(/\s+/g, ' ').trim().replace(SQL_PASSWORD_LITERAL, "$1 '***'"));
	return collapsed.length > QUERY_TEXT_LENGTH ? `${collapsed.slice(0, QUERY_TEXT_LENGTH - 1)}…` : collapsed;
}
