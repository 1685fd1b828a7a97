/**
 * What `msdb health` reports: one line per thing that must be true for the framework to work,
 * each with a stable name scripts and dashboards can key on.
 */

/** `skip`: not applicable here (not configured, or covered by another check); never a failure. */
export type HealthStatus = 'pass' | 'fail' | 'skip';

/** One check's result. */
export type HealthCheck = {
	/**
	 * Stable: `postgres:<pool role>`, `redis:<redis role>`, `migrations`, `drift`,
	 * `backup-target`, `backup-age`, `restore-age`.
	 */
	name: string;
	status: HealthStatus;
	/** Round trip of the check's probe (a query, a PING, a listing), ms; absent when nothing answered. */
	latencyMs?: number;
	/** One line a person reads first: what was found. Credentials masked. */
	message: string;
	/** What to do about it; always present on `fail`. */
	nextStep?: string;
	/** Machine-readable figures (versions, ages, counts) for scripts. */
	details?: Record<string, unknown>;
};

/** The whole report: `ok` is true when no check failed (skips allowed). */
export type HealthReport = {
	ok: boolean;
	checks: HealthCheck[];
};

/** Everything {@link HealthCheck}s need, resolved by the caller (the CLI or a service). */
export type HealthInput = {
	/** `--database-url`; else DATABASE_URL, else the libpq PG* variables (per pool role: DATABASE_<ROLE>_URL). */
	databaseUrl?: string | undefined;
	/** `--redis-url`; else REDIS_URL (per role: REDIS_<ROLE>_URL). */
	redisUrl?: string | undefined;
	/**
	 * The migrations folder, and whether the user named it. A default folder that does not exist
	 * (health run from a host without the project) skips the pending check; a named one fails it.
	 */
	migrationsDir: string;
	migrationsDirExplicit: boolean;
	rollbacksDir: string;
	/** `--target`; else MSDB_BACKUP_TARGET; neither skips the backup checks. */
	backupTarget?: string | undefined;
	/** The newest backup must have finished less than this long ago (default 26 h). */
	maxBackupAgeMs?: number;
	/** The newest passing restore drill must be younger than this (default 8 d). */
	maxRestoreAgeMs?: number;
	/** Each check gives up after this long and fails, so one dead service cannot hang the report (default 10 s). */
	checkTimeoutMs?: number;
	/** Default process.env. */
	env?: NodeJS.ProcessEnv;
};
