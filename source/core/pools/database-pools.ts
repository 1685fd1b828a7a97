/**
 * The process's PostgreSQL pools, one per role, created on first use.
 *
 * Why a pool per role even when roles share a server: pg_stat_activity shows each by its
 * `application_name` (`msdb:analytics` …), so a DBA can tell which part of the framework holds
 * connections or runs the slow query; and each role's size caps it, so analytics or background
 * work can exhaust only its own pool, never the connections request handling needs.
 *
 * What the stats count: every checkout (also the ones `pool(role).query()` makes) for
 * acquisitions and their latency; the helpers here (`query`, `read`) for queries, their errors
 * and duration. Work done on a client from `withClient` or `pool(role).connect()` counts as
 * checkouts only: the caller's statements are theirs to time.
 */
import pg from 'pg';
import {ActionableError, BugError} from '../errors.js';
import {LatencyHistogram} from '../metrics/latency-histogram.js';
import {redact} from '../redact.js';
import type {PoolsConfig, PoolRoleConfig} from './pool-config.js';
import {POOL_ROLES, type PoolRole, type PoolStats, type PoolsStats} from './pool-stats.js';
import {ReplicaRouter, type ReplicaRouterOptions} from './replica-router.js';

export type DatabasePoolsOptions = {
	/**
	 * An idle connection failed (the server restarted, or someone ran pg_terminate_backend). The
	 * pool has already dropped it and opens a new one on demand; this is for logging (pass the
	 * message through `redact()`). Without a listener such errors are ignored, never thrown.
	 */
	onError?: (role: PoolRole, error: Error) => void;
	/** Replica routing knobs beyond PoolsConfig (check timeout, probe backoff), mostly for tests. */
	replicaRouter?: Pick<ReplicaRouterOptions, 'checkTimeoutMs' | 'maxBackoffMs'>;
};

/** Counters of one pool; the pool's own counts (total, idle, waiting) are read live from it. */
class PoolMeter {
	acquisitions = 0;
	acquireErrors = 0;
	readonly acquireLatency = new LatencyHistogram();
	queries = 0;
	queryErrors = 0;
	readonly queryLatency = new LatencyHistogram();
}

type ConnectCallback = (error: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void;

/**
 * A pg.Pool that times every checkout. Overriding connect() catches them all: pg.Pool's own
 * query() checks out through `this.connect(callback)`.
 */
class InstrumentedPool extends pg.Pool {
	readonly meter = new PoolMeter();

	override connect(): Promise<pg.PoolClient>;
	override connect(callback: ConnectCallback): void;
	override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | void {
		const started = performance.now();
		const settle = (error: unknown) => {
			if (error) {
				this.meter.acquireErrors++;
			} else {
				this.meter.acquisitions++;
				this.meter.acquireLatency.record(performance.now() - started);
			}
		};

		if (callback) {
			super.connect((error, client, done) => {
				settle(error);
				callback(error, client, done);
			});
			return;
		}

		return super.connect().then(
			client => {
				settle(undefined);
				return client;
			},
			(error: unknown) => {
				settle(error);
				throw error;
			},
		);
	}
}

/** The outcome of one statement on one pool, keeping apart where it failed: read() needs to know. */
type Attempt<T extends pg.QueryResultRow> =
	| {ok: true; result: pg.QueryResult<T>}
	| {ok: false; phase: 'acquire'; error: ActionableError; exhausted: boolean}
	| {ok: false; phase: 'query'; error: unknown};

/** Values a parameterised statement takes ($1, $2 …). */
export type QueryValues = readonly unknown[];

/** Lazily created, instrumented pg pools by role, with replica reads that fall back to the primary. */
export class DatabasePools {
	/** The resolved configuration. */
	readonly config: PoolsConfig;
	private readonly options: DatabasePoolsOptions;
	private readonly pools = new Map<PoolRole, InstrumentedPool>();
	/** Undefined when the replica role has no URL of its own: replica reads then simply use the primary. */
	private readonly router: ReplicaRouter | undefined;
	private closed = false;

	constructor(config: PoolsConfig, options: DatabasePoolsOptions = {}) {
		this.config = config;
		this.options = options;
		this.router = config.roles.replica.ownUrl
			? new ReplicaRouter({
					queryReplica: async text => (await this.pool('replica').query(text)).rows as Array<Record<string, unknown>>,
					queryPrimary: async text => (await this.pool('primary').query(text)).rows as Array<Record<string, unknown>>,
					maxLagMs: config.replicaMaxLagMs,
					checkIntervalMs: config.replicaCheckIntervalMs,
					...options.replicaRouter,
				})
			: undefined;
	}

	/**
	 * The role's pg.Pool, created on first call (no connection is opened until one is needed).
	 * Its connections carry `application_name = msdb:<role>`.
	 */
	pool(role: PoolRole): pg.Pool {
		return this.instrumented(role);
	}

	/** Runs one statement on the role's pool. A failed checkout throws `E_DATABASE_UNREACHABLE` or `E_SERVICE_UNAVAILABLE` (pool exhausted); a failed statement throws pg's error as it is. */
	async query<T extends pg.QueryResultRow = pg.QueryResultRow>(role: PoolRole, text: string, values?: QueryValues): Promise<pg.QueryResult<T>> {
		const attempt = await this.attempt<T>(role, text, values);
		if (attempt.ok) {
			return attempt.result;
		}

		throw attempt.error;
	}

	/**
	 * Checks a client out of the role's pool for several statements (a transaction, a cursor),
	 * and always gives it back; a client whose connection broke is discarded instead of reused.
	 */
	async withClient<T>(role: PoolRole, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
		const pool = this.instrumented(role);
		const checkout = await this.checkout(role, pool);
		if (!checkout.ok) {
			throw checkout.error;
		}

		const {client, release} = checkout;
		try {
			const result = await work(client);
			release(undefined);
			return result;
		} catch (error) {
			release(isConnectionError(error) ? error : undefined);
			throw error;
		}
	}

	/**
	 * A read that tolerates bounded lag: sent to the replica while it answers within the lag
	 * threshold, else to the primary. A replica that fails the read for a reason of its own (the
	 * connection, a recovery conflict) is not the caller's problem: the read is retried on the
	 * primary and counted as a fallback. Errors of the statement itself are thrown as they are.
	 * Only for statements that change nothing: a retry runs them twice.
	 */
	async read<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: QueryValues): Promise<pg.QueryResult<T>> {
		const router = this.router;
		if (!router) {
			return this.query<T>('primary', text, values);
		}

		const route = await router.route();
		if (route.target === 'replica') {
			const attempt = await this.attempt<T>('replica', text, values);
			if (attempt.ok) {
				return attempt.result;
			}

			const verdict = replicaFailure(attempt);
			if (verdict === 'caller') {
				throw attempt.error;
			}

			if (verdict === 'replica-down') {
				router.reportFailure(attempt.phase === 'acquire' ? (attempt.error.cause ?? attempt.error) : attempt.error);
			}
		}

		router.recordFallback();
		return this.query<T>('primary', text, values);
	}

	/** Pools that exist (in role order), and replica routing when a replica URL is configured. */
	stats(): PoolsStats {
		const pools: PoolStats[] = [];
		for (const role of POOL_ROLES) {
			const pool = this.pools.get(role);
			if (!pool) {
				continue;
			}

			const {meter} = pool;
			pools.push({
				role,
				max: this.config.roles[role].max,
				total: pool.totalCount,
				idle: pool.idleCount,
				waiting: pool.waitingCount,
				acquisitions: meter.acquisitions,
				acquireErrors: meter.acquireErrors,
				acquireLatency: meter.acquireLatency.summary(),
				queries: meter.queries,
				queryErrors: meter.queryErrors,
				queryLatency: meter.queryLatency.summary(),
			});
		}

		return {pools, replica: this.router?.stats()};
	}

	/** Ends every pool (waiting for checked-out clients to come back). Idempotent. */
	async close(): Promise<void> {
		if (this.closed) {
			return;
		}

		this.closed = true;
		await Promise.all([...this.pools.values()].map(async pool => pool.end()));
	}

	private instrumented(role: PoolRole): InstrumentedPool {
		if (this.closed) {
			throw new BugError(`DatabasePools.pool('${role}') was called after close().`);
		}

		let pool = this.pools.get(role);
		if (!pool) {
			pool = createPool(this.config.roles[role]);
			pool.on('error', error => {
				try {
					this.options.onError?.(role, error);
				} catch {
					// A throwing listener inside an 'error' event would crash the process: the very thing this handler prevents.
				}
			});
			this.pools.set(role, pool);
		}

		return pool;
	}

	private async attempt<T extends pg.QueryResultRow>(role: PoolRole, text: string, values: QueryValues | undefined): Promise<Attempt<T>> {
		const pool = this.instrumented(role);
		const checkout = await this.checkout(role, pool);
		if (!checkout.ok) {
			return checkout;
		}

		const {client, release} = checkout;
		const started = performance.now();
		try {
			const result = await client.query<T>(text, values as unknown[] | undefined);
			pool.meter.queries++;
			pool.meter.queryLatency.record(performance.now() - started);
			release(undefined);
			return {ok: true, result};
		} catch (error) {
			pool.meter.queries++;
			pool.meter.queryErrors++;
			pool.meter.queryLatency.record(performance.now() - started);
			release(isConnectionError(error) ? error : undefined);
			return {ok: false, phase: 'query', error};
		}
	}

	/**
	 * One checkout with the client's 'error' events handled while we hold it: pg.Pool listens
	 * only while a client is idle, and an unhandled 'error' (the server ended the session
	 * between two statements) would crash the process.
	 */
	private async checkout(
		role: PoolRole,
		pool: InstrumentedPool,
	): Promise<{ok: true; client: pg.PoolClient; release: (error: unknown) => void} | {ok: false; phase: 'acquire'; error: ActionableError; exhausted: boolean}> {
		const config = this.config.roles[role];
		const exhausted = pool.totalCount >= config.max && pool.idleCount === 0;
		let client: pg.PoolClient;
		try {
			client = await pool.connect();
		} catch (error) {
			return {ok: false, phase: 'acquire', error: acquireError(config, error, exhausted), exhausted};
		}

		let broken: unknown;
		const onError = (error: Error) => {
			broken = error;
		};
		client.on('error', onError);
		let released = false;
		return {
			ok: true,
			client,
			release: error => {
				if (released) {
					return;
				}

				released = true;
				client.removeListener('error', onError);
				// A truthy argument makes pg.Pool destroy the client instead of reusing a broken connection.
				const reason = error ?? broken;
				client.release(reason ? (reason instanceof Error ? reason : new Error(String(reason))) : undefined);
			},
		};
	}
}

function createPool(config: PoolRoleConfig): InstrumentedPool {
	return new InstrumentedPool({
		...(config.database.connectionString ? {connectionString: config.database.connectionString} : {}),
		application_name: `msdb:${config.role}`,
		max: config.max,
		idleTimeoutMillis: config.idleTimeoutMs,
		connectionTimeoutMillis: config.connectTimeoutMs,
		// Idle connections alone must not keep a finished CLI command or script alive.
		allowExitOnIdle: true,
	});
}

/** SQLSTATEs at connection time and what the user can do about each. */
const CONNECT_NEXT_STEPS: Record<string, string> = {
	'3D000': 'The database does not exist: create it, or fix the database name in the URL.',
	'28P01': 'Authentication failed: check the user name and password.',
	'28000': 'The server refused this user: check pg_hba.conf and the user name.',
	'53300': 'The server has no free connection slots: wait, lower the pool sizes (MSDB_POOL_<ROLE>_MAX), or raise max_connections.',
	'57P03': 'The server is starting up or shutting down: try again in a moment.',
};

function acquireError(config: PoolRoleConfig, error: unknown, exhausted: boolean): ActionableError {
	const message = error instanceof Error ? error.message : String(error);
	const upper = config.role.toUpperCase();
	if (exhausted && /timeout exceeded when trying to connect/i.test(message)) {
		return new ActionableError(
			'E_SERVICE_UNAVAILABLE',
			`No free connection in the msdb:${config.role} pool within ${config.connectTimeoutMs} ms: all ${config.max} are in use.`,
			{
				nextStep: `Find what holds them (pg_stat_activity WHERE application_name = 'msdb:${config.role}'), or raise MSDB_POOL_${upper}_MAX.`,
				details: {role: config.role, max: config.max},
				cause: error,
			},
		);
	}

	const code = (error as {code?: unknown} | undefined)?.code;
	const sqlState = typeof code === 'string' ? code : undefined;
	return new ActionableError(
		'E_DATABASE_UNREACHABLE',
		redact(`Cannot connect the msdb:${config.role} pool to PostgreSQL at ${config.database.display} (from ${config.database.source}): ${message}`),
		{
			nextStep:
				(sqlState && CONNECT_NEXT_STEPS[sqlState]) ??
				`Check that PostgreSQL is running and reachable, and that ${config.database.source} points at it.`,
			details: {role: config.role, database: config.database.display, ...(sqlState ? {sqlState} : {})},
			cause: error,
		},
	);
}

/** Socket-level failures: the connection, not the statement, is at fault. */
const NETWORK_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATEs that say the session or server went away: class 08 (connection exception),
 * admin/crash shutdown, cannot connect now.
 */
const CONNECTION_SQLSTATES = new Set(['57P01', '57P02', '57P03']);

/** Replica-only cancellations: the standby's WAL replay needed what the read held (recovery conflicts). */
const RECOVERY_CONFLICT_SQLSTATES = new Set(['40001', '40P01', '57P04']);

/** True when the error is about the connection (lost, refused, server shutting down), not the statement. */
export function isConnectionError(error: unknown): boolean {
	if (!(error instanceof Error)) {
		return false;
	}

	const code = (error as {code?: unknown}).code;
	if (typeof code === 'string' && (NETWORK_ERROR_CODES.has(code) || CONNECTION_SQLSTATES.has(code) || code.startsWith('08'))) {
		return true;
	}

	// pg's own errors for a socket that closed under a query, or a client already broken.
	return /Connection terminated|not queryable|connection error|Client was closed/i.test(error.message);
}

/**
 * Whose problem a failed replica read is: the replica's (down: reroute and probe later; a
 * recovery conflict or a full pool: just reroute this read), or the caller's (a bad statement).
 */
function replicaFailure(attempt: Exclude<Attempt<pg.QueryResultRow>, {ok: true}>): 'replica-down' | 'reroute' | 'caller' {
	if (attempt.phase === 'acquire') {
		return attempt.exhausted ? 'reroute' : 'replica-down';
	}

	if (isConnectionError(attempt.error)) {
		return 'replica-down';
	}

	const code = (attempt.error as {code?: unknown} | undefined)?.code;
	return typeof code === 'string' && RECOVERY_CONFLICT_SQLSTATES.has(code) ? 'reroute' : 'caller';
}
