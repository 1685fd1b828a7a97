import {connectDatabase} from '../database/connect.js';
import type {PoolRoleConfig} from '../pools/pool-config.js';
import type {PoolRole} from '../pools/pool-stats.js';
import {elapsedMs, type CheckFamily} from './guarded-check.js';
import type {HealthCheck} from './health-check-types.js';

/** What one pool role's check needs from its pool configuration. */
export type PostgresRoleTarget = Pick<PoolRoleConfig, 'role' | 'database' | 'ownUrl'>;

/**
 * One query tells whether the server answers, how fast, and whether it is what the role expects:
 * the primary must accept writes (not be in recovery); a replica reports its replay lag. The lag
 * is 0 when everything received has been replayed: an idle primary sends nothing, and
 * `now() - pg_last_xact_replay_timestamp()` would otherwise grow forever on a healthy replica.
 */
const PROBE_SQL = `SELECT current_setting('server_version') AS version,
	pg_is_in_recovery() AS in_recovery,
	CASE
		WHEN NOT pg_is_in_recovery() THEN NULL
		WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
		ELSE (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::float8
	END AS lag_ms`;

/**
 * The check of one pool role (`postgres:<role>`). Roles without their own URL are skipped,
 * pointing at the primary's check: connecting twice to the same server proves nothing more.
 */
export function postgresRoleCheck(target: PostgresRoleTarget, options: {replicaMaxLagMs: number; connectTimeoutMs: number}): CheckFamily {
	const name = `postgres:${target.role}`;
	const variable = `DATABASE_${target.role.toUpperCase()}_URL`;
	const where = `${target.database.display} (from ${target.database.source})`;
	return {
		async run(signal) {
			// The primary is always checked (its config says ownUrl false: it is the URL the others share).
			if (target.role !== 'primary' && !target.ownUrl) {
				return [{name, status: 'skip', message: `uses the primary's server (${variable} not set): see postgres:primary`}];
			}

			const connectStarted = performance.now();
			const client = await connectDatabase(target.database, {applicationName: 'msdb:health', connectTimeoutMs: options.connectTimeoutMs});
			const connectMs = elapsedMs(connectStarted);
			const end = () => void client.end().catch(() => {});
			signal.addEventListener('abort', end, {once: true});
			try {
				const started = performance.now();
				const result = await client.query<{version: string; in_recovery: boolean; lag_ms: number | null}>(PROBE_SQL);
				const latencyMs = elapsedMs(started);
				const row = result.rows[0];
				const details = {server: target.database.display, version: row?.version, inRecovery: row?.in_recovery, replayLagMs: row?.lag_ms ?? null, connectMs};
				return [describeRole(target.role, name, where, {latencyMs, details, inRecovery: row?.in_recovery === true, lagMs: row?.lag_ms ?? null, version: row?.version ?? '?'}, options.replicaMaxLagMs, variable)];
			} finally {
				signal.removeEventListener('abort', end);
				end();
			}
		},
		failed(failure) {
			return [
				{
					name,
					status: 'fail',
					message: failure.timedOut ? `${target.database.display}: ${failure.message}` : failure.message,
					nextStep:
						failure.nextStep ??
						`Check that PostgreSQL is running and reachable at ${target.database.display}, and that ${target.database.source} points at it.`,
					details: {server: target.database.display},
				},
			];
		},
	};
}

function describeRole(
	role: PoolRole,
	name: string,
	where: string,
	probe: {latencyMs: number; details: Record<string, unknown>; inRecovery: boolean; lagMs: number | null; version: string},
	replicaMaxLagMs: number,
	variable: string,
): HealthCheck {
	const base = {name, latencyMs: probe.latencyMs, details: probe.details};
	if (role === 'replica') {
		if (!probe.inRecovery) {
			return {...base, status: 'pass', message: `PostgreSQL ${probe.version} at ${where}: answers, but is not a standby (does ${variable} name the primary?)`};
		}

		const lag = probe.lagMs === null ? 'replay lag unknown' : `replay lag ${Math.round(probe.lagMs)} ms`;
		// Over the threshold replica reads go to the primary by design: degraded, not down.
		const over = probe.lagMs !== null && replicaMaxLagMs > 0 && probe.lagMs > replicaMaxLagMs ? ` — over ${replicaMaxLagMs} ms, replica reads go to the primary` : '';
		return {...base, status: 'pass', message: `PostgreSQL ${probe.version} standby at ${where}, ${lag}${over}`};
	}

	if (probe.inRecovery) {
		return {
			...base,
			status: 'fail',
			message: `PostgreSQL at ${where} is a read-only standby: writes of the ${role} pool would fail`,
			nextStep: `Point ${role === 'primary' ? 'DATABASE_URL (or --database-url)' : variable} at the primary (after a failover, the new primary).`,
		};
	}

	return {...base, status: 'pass', message: `PostgreSQL ${probe.version} at ${where}`};
}
