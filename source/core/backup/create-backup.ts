import {throwIfCancelled} from '../cancellation.js';
import type {DatabaseConfig} from '../config/database-config.js';
import type {RedisClient} from '../redis/redis-client.js';
import type {RedisEndpoint} from '../redis/redis-config.js';
import {toolVersion} from '../tool-version.js';
import type {BackupEventListener} from './backup-events.js';
import {artifactKey, manifestKey, newBackupId, serializeManifest, warmManifestSchema} from './backup-manifest.js';
import type {BackupComponent, BackupManifest, PostgresManifestPart, RedisManifestPart} from './backup-manifest-types.js';
import type {BackupTarget} from './backup-target.js';
import type {RedisBackupMode} from './redis/index.js';

export type CreateBackupOptions = {
	target: BackupTarget;
	components: BackupComponent[];
	/** Needed when `components` includes postgres. */
	database?: DatabaseConfig | undefined;
	/** Needed when `components` includes redis. */
	redis?: {endpoint: RedisEndpoint; client: RedisClient; mode: RedisBackupMode} | undefined;
	/** Exact row counts per table in the dump's snapshot, for drills and restores to compare with. */
	rowCounts?: boolean | undefined;
	onEvent?: BackupEventListener | undefined;
	signal?: AbortSignal | undefined;
	now?: (() => Date) | undefined;
};

/** Artifact names inside `<id>/`. Neutral for Redis: `auto` may store an RDB or a dump stream. */
const POSTGRES_ARTIFACT = 'postgres.dump';
const REDIS_ARTIFACT = 'redis.data';

/**
 * Takes one backup: every requested component streamed into `<id>/`, then `manifest.json`,
 * written last — a folder without a manifest is not a backup. On any failure (or cancel) the
 * folder is removed as far as the target allows, and no manifest is ever written.
 */
export async function createBackup(options: CreateBackupOptions): Promise<BackupManifest> {
	const now = options.now ?? (() => new Date());
	const forward = options.onEvent ?? (() => {});
	let schemaWarmed = false;
	const onEvent: BackupEventListener = event => {
		// The manifest's schema is needed only at the end: it is built once the first artifact
		// streams (pg_dump running, this process waiting), not before pg_dump could start.
		if (event.type === 'artifact:start' && !schemaWarmed) {
			schemaWarmed = true;
			setImmediate(warmManifestSchema);
		}

		forward(event);
	};
	const started = now();
	const id = newBackupId(started);
	const {target} = options;
	onEvent({type: 'backup:step', message: `backup ${id} of ${options.components.join(' + ')} to ${target.display}`});

	let postgres: PostgresManifestPart | null = null;
	let redis: RedisManifestPart | null = null;
	try {
		if (options.components.includes('postgres')) {
			if (!options.database) {
				throw new TypeError('createBackup: components include postgres but no database was given');
			}

			throwIfCancelled(options.signal, 'Nothing was stored.');
			// pg_dump's `--version` probes (a process each) need neither the server nor the dump's
			// code: they run while that code and pg load and the backup connects.
			const pgDumpSearch = import('./postgres/pg-tools.js').then(async ({findPgTools}) => findPgTools('pg_dump'));
			// backupPostgres awaits it and reports its failure.
			pgDumpSearch.catch(() => {});
			// Each component's code loads only when it is backed up: `--only` runs start sooner.
			const {backupPostgres} = await import('./postgres/backup-postgres.js');
			postgres = await backupPostgres({
				database: options.database,
				target,
				key: artifactKey(id, POSTGRES_ARTIFACT),
				rowCounts: options.rowCounts ?? true,
				pgDumpSearch,
				onEvent,
				signal: options.signal,
			});
		}

		if (options.components.includes('redis')) {
			if (!options.redis) {
				throw new TypeError('createBackup: components include redis but no Redis was given');
			}

			throwIfCancelled(options.signal, 'Nothing was kept: the backup has no manifest.');
			const {backupRedis} = await import('./redis/redis-backup.js');
			redis = await backupRedis({
				endpoint: options.redis.endpoint,
				client: options.redis.client,
				target,
				key: artifactKey(id, REDIS_ARTIFACT),
				mode: options.redis.mode,
				onEvent,
				...(options.signal ? {signal: options.signal} : {}),
			});
		}

		throwIfCancelled(options.signal, 'Nothing was kept: the backup has no manifest.');
		const {json, manifest} = serializeManifest({
			formatVersion: 1,
			id,
			startedAt: started.toISOString(),
			finishedAt: now().toISOString(),
			toolVersion: toolVersion(),
			components: options.components,
			postgres,
			redis,
		});
		await target.putBytes(manifestKey(id), json);
		onEvent({type: 'backup:step', message: `manifest written: ${target.display}/${manifestKey(id)}`});
		return manifest;
	} catch (error) {
		// Best effort: the target may be the thing that failed. A folder without a manifest is not
		// a backup for list or restore, and prune removes what is left once it is a day old.
		await target.deletePrefix(`${id}/`).catch(() => 0);
		await target.cleanupIncomplete(`${id}/`).catch(() => 0);
		throw error;
	}
}
