import {currentActor} from '../../core/migrations/actor.js';
import type {MigrationEvent} from '../../core/migrations/migration-events.js';
import {DEFAULT_LIMITS, DEFAULT_LOCK_RETRIES, type MigrationSettings} from '../../core/migrations/migration-settings.js';
import type {FlowContext} from './flow-context.js';
import type {OperationIo} from './use-core-operation.js';

/** Matches the CLI's `--lock-timeout` default (60 s): how long to wait for another run's lock. */
const LOCK_WAIT_MS = 60_000;

/**
 * The core's migration settings for a flow: the console's resolved context, the same defaults
 * as the CLI, and, while a run is under way, the flow's event listener and cancel signal.
 */
export function flowMigrationSettings(context: FlowContext, io?: OperationIo<MigrationEvent>): MigrationSettings {
	return {
		database: context.database,
		migrationsDir: context.migrationsDir,
		rollbacksDir: context.rollbacksDir,
		lockTimeoutMs: LOCK_WAIT_MS,
		limits: DEFAULT_LIMITS,
		lockRetries: DEFAULT_LOCK_RETRIES,
		actor: currentActor(context.env),
		...(io ? {onEvent: io.onEvent, signal: io.signal} : {}),
	};
}
