import {throwIfCancelled} from '../cancellation.js';
import type {DatabaseConfig} from '../config/database-config.js';
import {MsdbError} from '../errors.js';
import {startLocalRedis} from '../provision/index.js';
import {createRedisClient} from '../redis/create-redis-client.js';
import {parseRedisUrl} from '../redis/redis-config.js';
import {toolVersion} from '../tool-version.js';
import {readBackup, writeVerificationRecord} from './backup-catalogue.js';
import type {BackupEventListener} from './backup-events.js';
import type {BackupManifest, VerificationRecord} from './backup-manifest-types.js';
import type {BackupTarget} from './backup-target.js';
import {drillPostgres, verifyPostgresArtifact} from './postgres/index.js';
import {restoreRedis, verifyRedisArtifact} from './redis/index.js';

export type VerifyBackupOptions = {
	target: BackupTarget;
	id: string;
	/** Also restore into a scratch database and a scratch Redis and compare counts. */
	drill?: boolean | undefined;
	/** The PostgreSQL server a drill restores onto (a scratch database beside this one). */
	database?: DatabaseConfig | undefined;
	onEvent?: BackupEventListener | undefined;
	signal?: AbortSignal | undefined;
};

export type VerifyBackupResult = {
	record: VerificationRecord;
	/** Where the record was written beside the manifest, or null if the target refused it. */
	recordKey: string | null;
	manifest: BackupManifest | null;
};

type Problem = VerificationRecord['problems'][number];

/**
 * Checks a backup without touching any live data: the manifest (its own checksum and shape),
 * every artifact re-read and re-hashed, `pg_restore --list` on the dump, the RDB's CRC64 and key
 * counts. With `drill`, also restores into a scratch database and a private scratch Redis and
 * compares their counts with the manifest. The result is recorded beside the manifest
 * (`verification-<time>.json`), which `list` and `prune` read.
 */
export async function verifyBackup(options: VerifyBackupOptions): Promise<VerifyBackupResult> {
	const onEvent = options.onEvent ?? (() => {});
	const {target, id} = options;
	const problems: Problem[] = [];
	const counts: NonNullable<VerificationRecord['counts']> = {};
	let manifest: BackupManifest | null = null;
	try {
		manifest = await readBackup(target, id);
	} catch (error) {
		// A manifest that fails its checks is a finding to record; a missing backup is not.
		if (error instanceof MsdbError && error.code === 'E_MANIFEST_INVALID') {
			problems.push({component: 'manifest', artifact: `${id}/manifest.json`, message: error.message});
		} else {
			throw error;
		}
	}

	if (manifest?.postgres) {
		throwIfCancelled(options.signal, 'The verification was stopped; nothing was recorded.');
		onEvent({type: 'backup:step', message: `verifying ${manifest.postgres.artifact.key}`});
		const result = await verifyPostgresArtifact({target, part: manifest.postgres, onEvent, signal: options.signal});
		problems.push(...result.problems);
		if (options.drill && result.ok) {
			onEvent({type: 'backup:step', message: 'drill: restoring PostgreSQL into a scratch database'});
			if (options.database) {
				const drill = await drillPostgres({database: options.database, target, part: manifest.postgres, onEvent, signal: options.signal});
				problems.push(...drill.problems);
				counts.postgres = drill.counts;
			} else {
				problems.push({component: 'postgres', message: 'drill skipped: no PostgreSQL server to restore onto (pass --database-url)'});
			}
		}
	}

	if (manifest?.redis) {
		throwIfCancelled(options.signal, 'The verification was stopped; nothing was recorded.');
		onEvent({type: 'backup:step', message: `verifying ${manifest.redis.artifact.key}`});
		const result = await verifyRedisArtifact({target, part: manifest.redis, onEvent, ...(options.signal ? {signal: options.signal} : {})});
		problems.push(...result.problems);
		if (options.drill && result.ok) {
			onEvent({type: 'backup:step', message: 'drill: restoring Redis into a private scratch redis-server'});
			const drilled = await drillRedis(target, manifest, onEvent, options.signal).catch((error: unknown) => ({
				problems: [{component: 'redis' as const, message: `drill failed: ${(error as Error).message}`}],
				keysPerDatabase: undefined,
			}));
			problems.push(...drilled.problems);
			if (drilled.keysPerDatabase) {
				counts.redis = drilled.keysPerDatabase;
			}
		}
	}

	const record: VerificationRecord = {
		backupId: id,
		verifiedAt: new Date().toISOString(),
		drill: Boolean(options.drill),
		ok: problems.length === 0,
		problems,
		...(Object.keys(counts).length > 0 ? {counts} : {}),
		toolVersion: toolVersion(),
	};
	const recordKey = await writeVerificationRecord(target, record).catch(() => null);
	return {record, recordKey, manifest};
}

/** Restores the Redis artifact into a throw-away local redis-server and compares key counts. */
async function drillRedis(
	target: BackupTarget,
	manifest: BackupManifest,
	onEvent: BackupEventListener,
	signal: AbortSignal | undefined,
): Promise<{problems: Problem[]; keysPerDatabase: Record<string, number> | undefined}> {
	const part = manifest.redis;
	if (!part) {
		return {problems: [], keysPerDatabase: undefined};
	}

	const scratch = await startLocalRedis();
	const {client} = createRedisClient(parseRedisUrl(scratch.url, 'default'), {connectionName: 'msdb:drill'});
	try {
		const result = await restoreRedis({target, part, client, onEvent, ...(signal ? {signal} : {})});
		const problems: Problem[] = result.problems.map(message => ({component: 'redis' as const, artifact: part.artifact.key, message}));
		return {problems, keysPerDatabase: result.restoredPerDatabase};
	} finally {
		client.disconnect();
		await scratch.stop();
	}
}
