/**
 * Decides where a replica read goes: to the replica while it answers and is within the lag
 * threshold, to the primary otherwise, always with a reason an operator can read.
 *
 * How lag is measured, and why this way. The usual `now() - pg_last_xact_replay_timestamp()`
 * alone is wrong both ways: it grows forever on a healthy replica of an idle primary, and it
 * cannot see WAL the replica never received (a replica cut off from its primary looks caught
 * up). So each check first asks the primary for its WAL position P (time t), then asks the
 * replica how far it has replayed (R):
 * - R ≥ P: everything the primary had written at t is visible on the replica: lag 0.
 * - R < P: every change the replica lacks was written after the last moment we saw the primary
 *   at or below R, so the lag is at most the time since that sample; and at most the age of
 *   the last replayed transaction (the missing ones committed after it). The smaller bound is
 *   the estimate: both are upper bounds, so a lagging replica is never taken for a fresh one.
 * Paused replay with new writes on the primary therefore shows a growing lag; paused replay of
 * an idle primary does not (the data is the same). When the primary does not answer, the
 * replica's own receive position stands in for P.
 *
 * Checks are lazy (no timers, no traffic while nobody reads): at most one per interval, never
 * two at once. Reads do not wait for a check unless the last answer no longer proves anything:
 * lag can only grow as fast as time passes, so a replica measured `lag` ms behind `age` ms ago
 * is at most `lag + age` behind now, and reads wait for a fresh check only once that bound
 * passes the threshold (or before the first check). A replica that does not answer is left
 * alone for a backoff (jittered, doubling up to a cap), then probed again; when it is back and
 * caught up, reads return to it.
 */
import {redact} from '../redact.js';
import {reconnectBackoff} from '../redis/reconnect-backoff.js';
import type {ReplicaRoutingStats} from './pool-stats.js';

/** The SQL the router runs, kept together. LSNs travel as text: they are 64-bit. */
export const REPLICA_ROUTER_QUERIES = {
	/** On the primary: how far it has written (a standby in recovery refuses this; then the replica's receive position is used). */
	primaryPosition: 'SELECT pg_current_wal_lsn()::text AS lsn',
	/** On the replica: where it is; pg_is_wal_replay_paused() raises outside recovery, hence the CASE. */
	replicaState: `SELECT pg_is_in_recovery() AS in_recovery,
	pg_last_wal_receive_lsn()::text AS receive_lsn,
	pg_last_wal_replay_lsn()::text AS replay_lsn,
	CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS replay_paused,
	(extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::float8 AS replay_age_ms`,
} as const;

/** Runs one statement and returns its rows; the router does not care which pool or client. */
export type RunQuery = (text: string) => Promise<Array<Record<string, unknown>>>;

export type ReplicaRouterOptions = {
	queryReplica: RunQuery;
	queryPrimary: RunQuery;
	/** Reads go to the primary while the replica is further behind than this; 0 means no limit. */
	maxLagMs: number;
	/** At most one check per interval. */
	checkIntervalMs: number;
	/** A check that has not answered after this long counts as a replica that is down (default 2000 ms). */
	checkTimeoutMs?: number;
	/** Longest wait before probing a replica that was down again (default 5000 ms, at least the interval). */
	maxBackoffMs?: number;
	/** Monotonic clock in ms, replaceable for tests. */
	now?: () => number;
};

/** Where one read goes. */
export type ReplicaRoute = {target: 'replica'} | {target: 'primary'; reason: string};

export const DEFAULT_CHECK_TIMEOUT_MS = 2000;
export const DEFAULT_MAX_BACKOFF_MS = 5000;

/** How many primary WAL positions are kept: enough to bound lag well past any sane threshold at one check per interval. */
const POSITION_HISTORY = 64;

type Measurement = {lagMs: number | null; paused: boolean; inRecovery: boolean};

type RouterState =
	| {kind: 'measured'; at: number; lagMs: number | null; usable: boolean; reason: string | undefined}
	| {kind: 'down'; at: number; reason: string; failures: number; retryAt: number};

/** One replica's routing state; see the file comment for the policy. */
export class ReplicaRouter {
	private readonly options: ReplicaRouterOptions;
	private readonly now: () => number;
	private readonly backoff: (attempt: number) => number;
	private readonly checkTimeoutMs: number;
	private state: RouterState | undefined;
	/** The running check's queries: set until they settle, so two checks never overlap. */
	private running: Promise<void> | undefined;
	/** Resolves when the running check is judged: answered, or timed out. */
	private judged: Promise<void> | undefined;
	/** Primary WAL positions sampled at the start of each check, oldest first. */
	private readonly positions: Array<{lsn: bigint; at: number}> = [];
	private fallbacks = 0;

	constructor(options: ReplicaRouterOptions) {
		this.options = options;
		this.now = options.now ?? (() => performance.now());
		this.checkTimeoutMs = options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
		const interval = Math.max(1, options.checkIntervalMs);
		this.backoff = reconnectBackoff({baseMs: interval, maxMs: Math.max(interval, options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS)});
	}

	/** Where the next read should go; checks the replica first when the last answer is stale. */
	async route(): Promise<ReplicaRoute> {
		const now = this.now();
		const state = this.state;
		if (state === undefined) {
			await this.refresh();
			return this.current();
		}

		if (state.kind === 'down') {
			// The reads go to the primary without waiting for the probe: a down replica may take a connect timeout to say so.
			if (now >= state.retryAt) {
				void this.refresh();
			}

			return this.current();
		}

		if (now - state.at >= this.options.checkIntervalMs) {
			const refreshed = this.refresh();
			const maxLag = this.options.maxLagMs;
			if (state.usable && maxLag > 0 && (state.lagMs ?? 0) + (now - state.at) > maxLag) {
				await refreshed;
			}
		}

		return this.current();
	}

	/**
	 * A replica read failed because the replica could not be reached or dropped the connection:
	 * reads go to the primary until a probe after the backoff finds it again.
	 */
	reportFailure(error: unknown): void {
		this.markDown(`replica unreachable: ${describe(error)}`);
	}

	/** Counts one read sent to the primary although it asked for the replica. */
	recordFallback(): void {
		this.fallbacks++;
	}

	/** Plain data for stats(). */
	stats(): ReplicaRoutingStats {
		const route = this.current();
		return {
			target: route.target,
			lagMs: this.state?.kind === 'measured' && this.state.lagMs !== null ? Math.round(this.state.lagMs) : null,
			lagThresholdMs: this.options.maxLagMs,
			fallbacks: this.fallbacks,
			reason: route.target === 'primary' ? route.reason : undefined,
		};
	}

	private current(): ReplicaRoute {
		const state = this.state;
		if (state === undefined) {
			return {target: 'primary', reason: 'replica not checked yet'};
		}

		if (state.kind === 'down') {
			return {target: 'primary', reason: state.reason};
		}

		return state.usable ? {target: 'replica'} : {target: 'primary', reason: state.reason ?? 'replica lag unknown'};
	}

	/** Starts a check unless one runs; resolves when it is judged (answer or timeout). Never rejects. */
	private async refresh(): Promise<void> {
		if (this.running && this.judged) {
			return this.judged;
		}

		let judge: () => void = () => {};
		this.judged = new Promise(resolve => {
			judge = resolve;
		});
		let settled = false;
		const timer = setTimeout(() => {
			if (!settled) {
				settled = true;
				this.markDown(`replica did not answer the lag check within ${formatMs(this.checkTimeoutMs)}`);
				judge();
			}
		}, this.checkTimeoutMs);
		// A check must never keep the process alive on its own.
		timer.unref();
		this.running = this.measure()
			.then(
				measurement => {
					if (!settled) {
						this.apply(measurement);
					}
				},
				(error: unknown) => {
					if (!settled) {
						this.markDown(`replica unreachable: ${describe(error)}`);
					}
				},
			)
			.finally(() => {
				clearTimeout(timer);
				settled = true;
				judge();
				this.running = undefined;
			});
		return this.judged;
	}

	private async measure(): Promise<Measurement> {
		const sampledAt = this.now();
		// The primary's position is optional: without it the replica's receive position stands in.
		const primaryLsn = await this.options
			.queryPrimary(REPLICA_ROUTER_QUERIES.primaryPosition)
			.then(rows => parseLsn(rows[0]?.['lsn']))
			.catch(() => undefined);
		if (primaryLsn !== undefined) {
			this.positions.push({lsn: primaryLsn, at: sampledAt});
			if (this.positions.length > POSITION_HISTORY) {
				this.positions.shift();
			}
		}

		const rows = await this.options.queryReplica(REPLICA_ROUTER_QUERIES.replicaState);
		const row = rows[0] ?? {};
		const answeredAt = this.now();
		const inRecovery = row['in_recovery'] === true;
		const paused = row['replay_paused'] === true;
		if (!inRecovery) {
			// Not a standby (promoted, or the replica URL names a primary): it has everything it serves.
			return {lagMs: 0, paused, inRecovery};
		}

		const replay = parseLsn(row['replay_lsn']);
		const target = primaryLsn ?? parseLsn(row['receive_lsn']);
		if (replay !== undefined && target !== undefined && replay >= target) {
			return {lagMs: 0, paused, inRecovery};
		}

		const bounds: number[] = [];
		if (replay !== undefined && primaryLsn !== undefined) {
			const seen = this.positions.findLast(position => position.lsn <= replay);
			if (seen) {
				bounds.push(answeredAt - seen.at);
			}
		}

		const replayAge = row['replay_age_ms'];
		if (typeof replayAge === 'number' && Number.isFinite(replayAge)) {
			bounds.push(Math.max(0, replayAge));
		}

		return {lagMs: bounds.length === 0 ? null : Math.min(...bounds), paused, inRecovery};
	}

	private apply(measurement: Measurement): void {
		const {lagMs, paused} = measurement;
		const maxLag = this.options.maxLagMs;
		const usable = lagMs !== null && (maxLag === 0 || lagMs <= maxLag);
		const suffix = paused ? ' (replay paused)' : '';
		const reason = usable
			? undefined
			: lagMs === null
				? `replica lag unknown: it is behind the primary and has replayed no transaction yet${suffix}`
				: `lag ${formatMs(lagMs)} > ${formatMs(maxLag)}${suffix}`;
		this.state = {kind: 'measured', at: this.now(), lagMs, usable, reason};
	}

	private markDown(reason: string): void {
		const now = this.now();
		const failures = this.state?.kind === 'down' ? this.state.failures + 1 : 1;
		this.state = {kind: 'down', at: now, reason, failures, retryAt: now + this.backoff(failures)};
	}
}

/** `0/3001110` → 0x3001110; undefined for anything else (NULL before streaming starts). */
export function parseLsn(value: unknown): bigint | undefined {
	if (typeof value !== 'string') {
		return undefined;
	}

	const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(value);
	if (!match?.[1] || !match[2]) {
		return undefined;
	}

	return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

/** `850 ms`, `1.2 s`, `12 s`: how the reason strings show durations. */
export function formatMs(ms: number): string {
	if (ms < 1000) {
		return `${Math.round(ms)} ms`;
	}

	const seconds = ms / 1000;
	return `${seconds < 10 ? seconds.toFixed(1).replace(/\.0$/, '') : Math.round(seconds)} s`;
}

function describe(error: unknown): string {
	const message = error instanceof Error ? error.message : String(error);
	const code = (error as {code?: unknown} | undefined)?.code;
	return redact(typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message);
}
