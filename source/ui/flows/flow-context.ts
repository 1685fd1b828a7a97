import type {DatabaseConfig} from '../../core/config/database-config.js';

/** What every guided flow of the console needs to reach the services, resolved once at start-up. */
export type FlowContext = {
	database: DatabaseConfig;
	/** `--redis-url`, else REDIS_URL; undefined when neither is set. */
	redisUrl: string | undefined;
	migrationsDir: string;
	rollbacksDir: string;
	/** `--target`, else MSDB_BACKUP_TARGET; undefined when no backup target is configured. */
	backupTarget: string | undefined;
	env: NodeJS.ProcessEnv;
	/** `--readonly`: the console offers no destructive flow at all. */
	readonly: boolean;
};

/** How a flow ended, for the console's status line. */
export type FlowOutcome = {status: 'done' | 'cancelled' | 'failed'; summary: string};

/**
 * A guided flow (migrate, roll back, reset, back up, restore) owns the screen below the header
 * while it runs, handles its own keys, and calls `onExit` exactly once when the person leaves it
 * (esc before anything has changed, or after its summary).
 */
export type FlowProps = {
	context: FlowContext;
	onExit: (outcome: FlowOutcome) => void;
	/** Room the flow may use (terminal size minus header and footer). */
	width: number;
	height: number;
};
