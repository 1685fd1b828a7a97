import type {DatabaseConfig} from '../config/database-config.js';
import type {MigrationDirectives} from './migration-directives.js';
import type {MigrationEventListener} from './migration-events.js';
import type {SessionLimits} from './run-migration-sql.js';

/** Everything the migration operations need, resolved by the caller (CLI or library user). */
export type MigrationSettings = {
	database: DatabaseConfig;
	migrationsDir: string;
	rollbacksDir: string;
	/** How long to wait for another run's migration lock (`--lock-timeout`), in ms. */
	lockTimeoutMs: number;
	/** lock_timeout and statement_timeout while each file runs, unless its directives say otherwise. */
	limits: SessionLimits;
	/** How many times a transactional file is retried when it hits lock_timeout. */
	lockRetries: number;
	/** Recorded as applied_by / performed_by. */
	actor: string;
	onEvent?: MigrationEventListener;
	/** Stops the run between files and cancels the statement running on the server. */
	signal?: AbortSignal | undefined;
};

/**
 * Defaults chosen for production safety: a DDL statement that waits more than 10 s for a lock
 * is queueing every query behind it, so it gives up (and is retried); a file may run for up to
 * an hour. Both can be changed per run or per file.
 */
export const DEFAULT_LIMITS: SessionLimits = {lockTimeout: '10s', statementTimeout: '1h'};
export const DEFAULT_LOCK_WAIT = '60s';
export const DEFAULT_LOCK_RETRIES = 3;

/** The limits a file runs under: its own directives first, then the run's. */
export function limitsFor(settings: Pick<MigrationSettings, 'limits'>, directives: MigrationDirectives): SessionLimits {
	return {
		lockTimeout: directives.lockTimeout ?? settings.limits.lockTimeout,
		statementTimeout: directives.statementTimeout ?? settings.limits.statementTimeout,
	};
}
