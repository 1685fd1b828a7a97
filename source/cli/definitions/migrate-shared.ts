import {z} from 'zod';
import type {MigrationSettings} from '../../core/migrations/migration-settings.js';
import {durationOption} from '../global-options.js';
import {optionMeta} from '../option-meta.js';
import type {CommandContext} from '../command-definition.js';

// Kept in sync with DEFAULT_LIMITS / DEFAULT_LOCK_WAIT / DEFAULT_LOCK_RETRIES in core; they are
// repeated here as literals so parsing options never loads the migration core.
export const migrationRunOptions = {
	lockTimeout: durationOption("How long to wait for another run's migration lock", '60s'),
	ddlLockTimeout: durationOption('lock_timeout for each file (a file\'s "-- msdb:lock-timeout" wins)', '10s'),
	statementTimeout: durationOption('statement_timeout for each file (a file\'s "-- msdb:statement-timeout" wins)', '1h'),
	lockRetries: z
		.number()
		.int()
		.min(0)
		.default(3)
		.describe(optionMeta({description: 'Retries of a transactional file that hits lock_timeout', valueDescription: 'n'})),
};

type SettingsInput = {
	databaseUrl?: string | undefined;
	migrationsDir: string;
	rollbacksDir: string;
	lockTimeout?: string;
	ddlLockTimeout?: string;
	statementTimeout?: string;
	lockRetries?: number;
};

/** Builds the core's settings from parsed options; loads the core lazily. */
export async function migrationSettings(options: SettingsInput, context: CommandContext): Promise<MigrationSettings> {
	const [{resolveDatabaseConfig}, {currentActor}, {parseDuration}, {DEFAULT_LIMITS, DEFAULT_LOCK_RETRIES, DEFAULT_LOCK_WAIT}] = await Promise.all([
		import('../../core/config/database-config.js'),
		import('../../core/migrations/actor.js'),
		import('../../core/duration.js'),
		import('../../core/migrations/migration-settings.js'),
	]);
	return {
		database: resolveDatabaseConfig(options.databaseUrl, context.env),
		migrationsDir: options.migrationsDir,
		rollbacksDir: options.rollbacksDir,
		lockTimeoutMs: parseDuration(options.lockTimeout ?? DEFAULT_LOCK_WAIT) ?? 60_000,
		limits: {
			lockTimeout: options.ddlLockTimeout ?? DEFAULT_LIMITS.lockTimeout,
			statementTimeout: options.statementTimeout ?? DEFAULT_LIMITS.statementTimeout,
		},
		lockRetries: options.lockRetries ?? DEFAULT_LOCK_RETRIES,
		actor: currentActor(context.env),
		onEvent: context.onEvent,
		signal: context.signal,
	};
}

export function formatVersion(version: number | null): string {
	return version === null ? 'none' : String(version);
}
