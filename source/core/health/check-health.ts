import type {BackupTarget} from '../backup/backup-target.js';
import {openBackupTarget} from '../backup/targets/open-backup-target.js';
import {cancelledError} from '../cancellation.js';
import {currentActor} from '../migrations/actor.js';
import {DEFAULT_LIMITS, DEFAULT_LOCK_RETRIES, type MigrationSettings} from '../migrations/migration-settings.js';
import {resolvePoolsConfig} from '../pools/pool-config.js';
import {POOL_ROLES} from '../pools/pool-stats.js';
import {resolveRedisConfig} from '../redis/redis-config.js';
import {backupChecks, backupChecksSkipped} from './backup-checks.js';
import {runGuarded, type CheckFamily} from './guarded-check.js';
import type {HealthCheck, HealthInput, HealthReport} from './health-check-types.js';
import {driftCheck, migrationsCheck} from './migration-checks.js';
import {postgresRoleCheck} from './postgres-checks.js';
import {redisChecks} from './redis-checks.js';

// The CLI repeats these as literal option defaults (so parsing options loads no core): keep them in sync.

/** `--check-timeout`'s default: generous for a slow S3 listing, short enough for a probe. */
export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;
/** `--max-backup-age`'s default: daily backups, plus slack for a slow or late run. */
export const DEFAULT_MAX_BACKUP_AGE_MS = 26 * 3_600_000;
/** `--max-restore-age`'s default: a weekly restore drill, plus a day of slack. */
export const DEFAULT_MAX_RESTORE_AGE_MS = 8 * 86_400_000;

/**
 * Checks everything the framework needs, concurrently, each under `checkTimeoutMs`: every
 * PostgreSQL pool role with its own server, every Redis role, migrations and drift, and the
 * backup target with the ages of the newest backup and restore drill. A down service is a
 * failed check, never a thrown error: the report always arrives. Bad configuration (a
 * malformed URL) throws, as every command refuses it (exit 2).
 */
export async function checkHealth(input: HealthInput, options: {signal?: AbortSignal} = {}): Promise<HealthReport> {
	const signal = options.signal ?? new AbortController().signal;
	const env = input.env ?? process.env;
	const checkTimeoutMs = input.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
	// Configuration first: a malformed URL is refused before anything is contacted.
	const pools = resolvePoolsConfig({databaseUrl: input.databaseUrl}, env);
	const redis = resolveRedisConfig({redisUrl: input.redisUrl}, env);
	const targetUrl = input.backupTarget ?? nonEmpty(env.MSDB_BACKUP_TARGET);
	const target: BackupTarget | undefined = targetUrl === undefined ? undefined : openBackupTarget(targetUrl, env);
	const settings: MigrationSettings = {
		database: pools.roles.primary.database,
		migrationsDir: input.migrationsDir,
		rollbacksDir: input.rollbacksDir,
		lockTimeoutMs: 0,
		limits: DEFAULT_LIMITS,
		lockRetries: DEFAULT_LOCK_RETRIES,
		actor: currentActor(env),
	};

	const guarded = async (family: CheckFamily) => runGuarded(family, {timeoutMs: checkTimeoutMs, signal});
	const postgres = POOL_ROLES.map(role => postgresRoleCheck(pools.roles[role], {replicaMaxLagMs: pools.replicaMaxLagMs, connectTimeoutMs: checkTimeoutMs}));
	const [primaryFamily, ...otherRoles] = postgres as [CheckFamily, ...CheckFamily[]];
	const results = await Promise.all([
		// Migrations and drift need the primary: they wait for its probe and are skipped when it
		// did not answer, so a dead server is named once and no connection attempt outlives the report.
		(async () => {
			const primary = await guarded(primaryFamily);
			const answered = primary.some(check => check.latencyMs !== undefined);
			const dependent = answered
				? await Promise.all([guarded(migrationsCheck(settings, {migrationsDirExplicit: input.migrationsDirExplicit})), guarded(driftCheck(settings))])
				: [notChecked('migrations'), notChecked('drift')];
			return {primary, dependent: dependent.flat()};
		})(),
		Promise.all(otherRoles.map(guarded)),
		// Redis gives up a little before the family's deadline, so its own (more precise) error wins.
		guarded(redisChecks(redis, {timeoutMs: Math.max(checkTimeoutMs - 250, 100)})),
		target ? guarded(backupChecks(target, {maxBackupAgeMs: input.maxBackupAgeMs ?? DEFAULT_MAX_BACKUP_AGE_MS, maxRestoreAgeMs: input.maxRestoreAgeMs ?? DEFAULT_MAX_RESTORE_AGE_MS})) : backupChecksSkipped(),
	]);
	if (signal.aborted) {
		throw cancelledError('The health checks were stopped; nothing was changed.');
	}

	const [{primary, dependent}, roles, redisResults, backupResults] = results;
	const checks: HealthCheck[] = [...primary, ...roles.flat(), ...redisResults, ...dependent, ...backupResults];
	return {ok: checks.every(check => check.status !== 'fail'), checks};
}

function notChecked(name: string): HealthCheck[] {
	return [{name, status: 'skip', message: 'not checked: the database did not answer (see postgres:primary)'}];
}

function nonEmpty(value: string | undefined): string | undefined {
	return value === undefined || value.trim() === '' ? undefined : value;
}
