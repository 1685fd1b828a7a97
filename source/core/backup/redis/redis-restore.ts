/**
 * The Redis half of `msdb restore`: replays every key of a backup artifact into a live target
 * (standalone or cluster) with `RESTORE … ABSTTL REPLACE`, without host access.
 *
 * Order, so that a refusal touches nothing:
 * 1. a cluster only has database 0: a backup with keys elsewhere is refused, naming them;
 * 2. the target's RDB version (DUMP of a scratch key) must be at least the backup's, per the
 *    manifest and then per the artifact's own header, read before anything is written;
 * 3. only then `flush` (FLUSHALL on every master), functions, and the keys, streamed: the artifact
 *    is parsed chunk by chunk and each key becomes a RESTORE in a bounded pipeline, so memory is
 *    bounded by the largest key;
 * 4. keys whose absolute expiry has passed are skipped (and counted), since RESTORE … ABSTTL
 *    would create them only for Redis to delete them again;
 * 5. afterwards the manifest's counts are compared with the artifact's and with what was restored.
 *
 * The artifact's checksum is only known at its end, after keys have been written: run
 * verifyRedisArtifact first (restore does, per the design) to refuse a damaged artifact up front.
 */
import {ActionableError} from '../../errors.js';
import {cancelledError, throwIfCancelled} from '../../cancellation.js';
import {isCluster, type RedisClient} from '../../redis/redis-client.js';
import type {BackupEventListener} from '../backup-events.js';
import type {RedisManifestPart} from '../backup-manifest-types.js';
import type {BackupTarget} from '../backup-target.js';
import {ProgressMeter} from '../progress-meter.js';
import {createRedisArtifactParser} from './redis-artifact-parser.js';
import type {RedisFunctionsRecord, RedisKeyRecord} from './redis-key-record.js';
import {RedisRestoreWriter} from './redis-restore-writer.js';
import {readTargetRdbVersion} from './redis-server-facts.js';

export type RestoreRedisOptions = {
	target: BackupTarget;
	/** The manifest's Redis part. */
	part: RedisManifestPart;
	/** The server to restore into (standalone or cluster); keys go to their original database. */
	client: RedisClient;
	/** FLUSHALL on every master first. The caller must have had this confirmed. */
	flush?: boolean;
	onEvent?: BackupEventListener;
	signal?: AbortSignal;
};

export type RedisRestoreResult = {
	/** Keys per database found in the artifact (expired ones included). */
	keysPerDatabase: Record<string, number>;
	/** Keys the target confirmed. */
	restored: number;
	restoredPerDatabase: Record<string, number>;
	/** Keys skipped because their absolute expiry had passed. */
	skippedExpired: number;
	/** Cluster: keys a master redirected (slots moving during the restore), replayed through the cluster client. */
	redirected: number;
	/** Function libraries (or FUNCTION DUMP payloads) replayed. */
	functions: number;
	/** RDB version of the target (lowest over its masters). */
	targetRdbVersion: number;
	/** Count differences against the manifest; empty when everything agrees. */
	problems: string[];
};

const KEYS_EVENT_INTERVAL_MS = 250;

/** See the file comment. */
export async function restoreRedis(options: RestoreRedisOptions): Promise<RedisRestoreResult> {
	const {part, client, signal} = options;
	const onEvent = options.onEvent ?? (() => {});
	const label = part.artifact.key;
	throwIfCancelled(signal, 'Nothing was restored.');
	if (isCluster(client)) {
		const elsewhere = Object.entries(part.keysPerDatabase).filter(([db, count]) => db !== '0' && count > 0);
		if (elsewhere.length > 0) {
			throw new ActionableError(
				'E_REDIS_RESTORE_REFUSED',
				`The backup ${label} holds keys in database(s) ${elsewhere.map(([db, count]) => `${db} (${count} keys)`).join(', ')}, but a Redis Cluster has only database 0. Nothing was restored.`,
				{
					nextStep: 'Restore into a standalone Redis, which has the databases, or move those keys to database 0 on the source before backing up.',
					details: {databases: elsewhere.map(([db]) => Number(db))},
				},
			);
		}
	}

	const targetRdbVersion = await readTargetRdbVersion(client);
	refuseNewer(part.rdbVersion, targetRdbVersion, label, 'manifest');
	const writer = await RedisRestoreWriter.open(client, signal);
	try {
		return await replay(options, writer, targetRdbVersion, onEvent);
	} finally {
		writer.close();
	}
}

async function replay(options: RestoreRedisOptions, writer: RedisRestoreWriter, targetRdbVersion: number, onEvent: BackupEventListener): Promise<RedisRestoreResult> {
	const {part, signal} = options;
	const label = part.artifact.key;
	const cluster = isCluster(options.client);
	const totalKeys = Object.values(part.keysPerDatabase).reduce((sum, count) => sum + count, 0);
	let records: RedisKeyRecord[] = [];
	let functionRecords: RedisFunctionsRecord[] = [];
	const parser = createRedisArtifactParser(part.artifact.format, {
		label,
		// The header comes before any key, so a newer backup is refused before anything is written.
		onHeader: ({rdbVersion}) => {
			if (rdbVersion !== null) {
				refuseNewer(rdbVersion, targetRdbVersion, label, 'artifact');
			}
		},
		onKey: record => {
			if (cluster && record.db !== 0) {
				throw new ActionableError('E_REDIS_RESTORE_REFUSED', `The backup ${label} holds keys in database ${record.db}, which a Redis Cluster does not have; its manifest said otherwise.`, {
					nextStep: 'Restore into a standalone Redis.',
				});
			}

			records.push(record);
		},
		onFunctions: record => functionRecords.push(record),
	});
	const meter = new ProgressMeter({component: 'redis', key: label, operation: 'restore', totalBytes: part.artifact.bytes}, onEvent);
	const skippedPerDatabase = new Map<number, number>();
	let skippedExpired = 0;
	let functions = 0;
	let flushed = !options.flush;
	let lastKeysEvent = 0;
	const stream = await options.target.get(label, {signal});
	try {
		for await (const chunk of stream as AsyncIterable<Buffer>) {
			throwIfCancelled(signal, `${writer.restored} key(s) were restored before the stop; the target holds a partial restore.`);
			parser.push(chunk);
			meter.add(chunk.length);
			if (!flushed && (records.length > 0 || functionRecords.length > 0)) {
				await writer.flushAll();
				flushed = true;
			}

			for (const record of functionRecords) {
				await writer.loadFunctions(record);
				functions++;
			}

			functionRecords = [];
			const now = Date.now();
			for (const record of records) {
				if (record.expireAtMs !== null && record.expireAtMs <= now) {
					skippedExpired++;
					skippedPerDatabase.set(record.db, (skippedPerDatabase.get(record.db) ?? 0) + 1);
					continue;
				}

				if (writer.write(record)) {
					await writer.pace();
				}
			}

			records = [];
			await writer.pace();
			if (performance.now() - lastKeysEvent >= KEYS_EVENT_INTERVAL_MS) {
				lastKeysEvent = performance.now();
				onEvent({type: 'restore:keys', restored: writer.restored, total: totalKeys});
			}
		}

		throwIfCancelled(signal, `${writer.restored} key(s) were restored before the stop; the target holds a partial restore.`);
		const summary = parser.end();
		if (!flushed) {
			await writer.flushAll();
		}

		for (const record of [...functionRecords]) {
			await writer.loadFunctions(record);
			functions++;
		}

		for (const record of records) {
			if (record.expireAtMs !== null && record.expireAtMs <= Date.now()) {
				skippedExpired++;
				skippedPerDatabase.set(record.db, (skippedPerDatabase.get(record.db) ?? 0) + 1);
			} else {
				writer.write(record);
			}
		}

		await writer.finish();
		meter.done();
		onEvent({type: 'restore:keys', restored: writer.restored, total: totalKeys});
		const restoredPerDatabase = writer.restoredPerDatabase();
		return {
			keysPerDatabase: summary.keysPerDatabase,
			restored: writer.restored,
			restoredPerDatabase,
			skippedExpired,
			redirected: writer.redirected,
			functions,
			targetRdbVersion,
			problems: compareCounts(part.keysPerDatabase, summary.keysPerDatabase, restoredPerDatabase, skippedPerDatabase, label),
		};
	} catch (error) {
		if (signal?.aborted && !(error instanceof ActionableError && error.code === 'E_CANCELLED')) {
			throw cancelledError(`${writer.restored} key(s) were restored before the stop; the target holds a partial restore.`);
		}

		throw error;
	} finally {
		stream.destroy();
	}
}

function refuseNewer(backupVersion: number, targetVersion: number, label: string, source: 'manifest' | 'artifact'): void {
	if (backupVersion > targetVersion) {
		throw new ActionableError(
			'E_RDB_VERSION_NEWER',
			`The backup ${label} has RDB version ${backupVersion} (per its ${source}), newer than the target's ${targetVersion}: the target could not load its values. Nothing was restored.`,
			{
				nextStep: 'Restore into a Redis at least as new as the one backed up (RDB 10 = Redis 7.0, 11 = 7.2, 12 = 7.4).',
				details: {backupRdbVersion: backupVersion, targetRdbVersion: targetVersion},
			},
		);
	}
}

function compareCounts(
	manifest: Record<string, number>,
	artifact: Record<string, number>,
	restored: Record<string, number>,
	skipped: ReadonlyMap<number, number>,
	label: string,
): string[] {
	const problems: string[] = [];
	const databases = new Set([...Object.keys(manifest), ...Object.keys(artifact), ...Object.keys(restored)]);
	for (const db of [...databases].sort((a, b) => Number(a) - Number(b))) {
		const expected = manifest[db] ?? 0;
		const found = artifact[db] ?? 0;
		const replayed = (restored[db] ?? 0) + (skipped.get(Number(db)) ?? 0);
		if (found !== expected) {
			problems.push(`${label}: database ${db} holds ${found} key(s), the manifest records ${expected}.`);
		} else if (replayed !== expected) {
			problems.push(`${label}: database ${db}: ${replayed} key(s) restored or skipped as expired, the manifest records ${expected}.`);
		}
	}

	return problems;
}
