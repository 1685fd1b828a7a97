import type {BackupTarget} from '../backup/backup-target.js';
import {openBackupTarget} from '../backup/targets/open-backup-target.js';
import {resolveDatabaseConfig, type DatabaseConfig} from '../config/database-config.js';
import {currentActor} from '../migrations/actor.js';
import {keyEnvironment} from '../redis/key-names.js';
import {resolveRedisConfig, type RedisRole} from '../redis/redis-config.js';
import {DashboardModel} from './dashboard-model.js';
import {FLEET_REDIS_ROLE} from '../fleet/fleet-redis-role.js';

/** The console's settings, as the command line and environment give them. */
export type OpenDashboardInput = {
	databaseUrl?: string | undefined;
	redisUrl?: string | undefined;
	migrationsDir: string;
	rollbacksDir: string;
	/** `--target`; else MSDB_BACKUP_TARGET; else no backups panel. */
	backupTarget?: string | undefined;
	/** The live gauges' interval, ms. */
	intervalMs: number;
	env: NodeJS.ProcessEnv;
};

/** A model ready to start, and the resolved settings the guided flows need. */
export type OpenedDashboard = {
	model: DashboardModel;
	database: DatabaseConfig;
	/** `--redis-url`, else REDIS_URL; undefined when neither is set. */
	redisUrl: string | undefined;
	/** The backup target URL, undefined when none is configured. */
	backupTarget: string | undefined;
	target: BackupTarget | undefined;
};

/**
 * The Redis role whose server the Redis panel shows: the cache holds most of the memory and is
 * where evictions happen. Every role is the same server unless REDIS_<ROLE>_URL says otherwise.
 */
export const CONSOLE_REDIS_ROLE: RedisRole = 'cache';

/**
 * Resolves what the console watches the way every command does (`--database-url`, else
 * DATABASE_URL, else PG*; `--redis-url`, else REDIS_URL, else the default; `--target`, else
 * MSDB_BACKUP_TARGET) and builds the model. Contacts nothing: a malformed URL is refused here
 * (exit 2) before the screen opens, a server that is down shows in its panel.
 */
export function openDashboard(input: OpenDashboardInput): OpenedDashboard {
	const {env} = input;
	const database = resolveDatabaseConfig(input.databaseUrl, env);
	const redis = resolveRedisConfig({redisUrl: input.redisUrl}, env);
	const backupTarget = nonEmpty(input.backupTarget) ?? nonEmpty(env.MSDB_BACKUP_TARGET);
	const target = backupTarget === undefined ? undefined : openBackupTarget(backupTarget, env);
	const fleetEnv = keyEnvironment(env);
	const model = new DashboardModel({
		database,
		redis: redis.endpoints[CONSOLE_REDIS_ROLE],
		fleet: {endpoint: redis.endpoints[FLEET_REDIS_ROLE], env: fleetEnv},
		migrations: {migrationsDir: input.migrationsDir, rollbacksDir: input.rollbacksDir, actor: currentActor(env)},
		...(target ? {backupTarget: target} : {}),
		environment: fleetEnv,
		intervalMs: input.intervalMs,
	});
	return {model, database, redisUrl: nonEmpty(input.redisUrl) ?? nonEmpty(env.REDIS_URL), backupTarget, target};
}

function nonEmpty(value: string | undefined): string | undefined {
	return value === undefined || value.trim() === '' ? undefined : value;
}
