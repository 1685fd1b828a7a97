/**
 * The Redis half of `msdb backup create`: one artifact streamed to the target, and the manifest
 * part that describes it.
 *
 * - `sync`: the RDB fetched over the replication protocol (rdb-fetch.ts) is streamed to the
 *   target and, on the way, through the RDB parser, which counts keys per database and checks
 *   the CRC64; a bad checksum fails the upload before it completes, so nothing is kept.
 * - `dump`: SCAN + DUMP + PTTL into an `msdb-redis-dump-v1` artifact (redis-dump-source.ts), for
 *   servers that refuse SYNC and for clusters (every master).
 * - `auto` (default): `dump` for a cluster; otherwise `sync`, falling back to `dump` when the
 *   server refuses SYNC.
 */
import {pipeline, Transform, type TransformCallback} from 'node:stream';
import {ActionableError, BugError} from '../../errors.js';
import {throwIfCancelled} from '../../cancellation.js';
import {isCluster, type RedisClient} from '../../redis/redis-client.js';
import type {RedisEndpoint} from '../../redis/redis-config.js';
import type {BackupEventListener} from '../backup-events.js';
import type {RedisManifestPart} from '../backup-manifest-types.js';
import type {BackupTarget} from '../backup-target.js';
import {ProgressMeter} from '../progress-meter.js';
import {fetchRdb} from './rdb-fetch.js';
import {RdbParser} from './rdb-parser.js';
import {createRedisDumpStream} from './redis-dump-source.js';
import type {RedisArtifactSummary} from './redis-key-record.js';
import {readServerFacts, type RedisServerFacts} from './redis-server-facts.js';

export type RedisBackupMode = 'auto' | 'sync' | 'dump';

export type BackupRedisOptions = {
	/** Where the server is (the SYNC connection is opened from it; a Sentinel endpoint is resolved to its primary). */
	endpoint: RedisEndpoint;
	/** A connection to the same deployment, for INFO and dump mode. */
	client: RedisClient;
	target: BackupTarget;
	/** The artifact's key in the target (`<backup-id>/redis.rdb`); its format is recorded in the part. */
	key: string;
	mode?: RedisBackupMode;
	onEvent?: BackupEventListener;
	signal?: AbortSignal;
	/** Dump mode: keys per SCAN page (default 1000). */
	scanCount?: number;
};

const CANCELLED = 'The Redis backup was stopped; no artifact was kept.';

/** Backs up one Redis deployment into `key`; resolves with the manifest part once the artifact is stored. */
export async function backupRedis(options: BackupRedisOptions): Promise<RedisManifestPart> {
	const onEvent = options.onEvent ?? (() => {});
	const mode = options.mode ?? 'auto';
	const cluster = options.endpoint.kind === 'cluster' || isCluster(options.client);
	if (mode === 'sync' && cluster) {
		throw new ActionableError('E_BAD_ARGUMENT', 'A Redis Cluster cannot be backed up in sync mode: each master holds only its own slots.', {
			nextStep: 'Use --redis-mode dump (or auto), which scans every master.',
		});
	}

	throwIfCancelled(options.signal, CANCELLED);
	const facts = await readServerFacts(options.client);
	if (mode === 'dump' || cluster) {
		if (cluster && mode === 'auto') {
			onEvent({type: 'backup:step', message: 'Redis: a cluster, so every master is scanned (dump mode).'});
		}

		return backupByDump(options, facts);
	}

	try {
		return await backupBySync(options, facts);
	} catch (error) {
		if (mode === 'auto' && error instanceof ActionableError && error.code === 'E_REDIS_SYNC_REFUSED') {
			onEvent({type: 'backup:step', message: `Redis: ${error.message} Falling back to dump mode (SCAN + DUMP + PTTL).`});
			return backupByDump(options, facts);
		}

		throw error;
	}
}

async function backupBySync(options: BackupRedisOptions, facts: RedisServerFacts): Promise<RedisManifestPart> {
	const onEvent = options.onEvent ?? (() => {});
	const {endpoint} = options;
	if (endpoint.kind === 'cluster') {
		throw new BugError('A cluster reached the SYNC path of the Redis backup.');
	}

	onEvent({type: 'backup:step', message: `Redis: fetching an RDB from ${endpoint.display} over the replication protocol.`});
	const fetched = await fetchRdb({source: endpoint, signal: options.signal});
	const meter = new ProgressMeter({component: 'redis', key: options.key, operation: 'upload', totalBytes: fetched.totalBytes}, onEvent);
	let summary: RedisArtifactSummary | undefined;
	const parser = new RdbParser({label: options.key});
	// Parsed inline on the way to the target: a CRC64 mismatch fails the body, so the upload aborts.
	const check = new Transform({
		transform(chunk: Buffer, _encoding, callback: TransformCallback) {
			try {
				parser.push(chunk);
			} catch (error) {
				callback(error as Error);
				return;
			}

			meter.add(chunk.length);
			callback(null, chunk);
		},
		flush(callback: TransformCallback) {
			try {
				summary = parser.end();
				callback();
			} catch (error) {
				callback(error as Error);
			}
		},
	});
	pipeline(fetched.stream, check, () => {
		// Errors reach the target through `check`, which pipeline destroys with them.
	});
	try {
		const stored = await options.target.put(options.key, check, {signal: options.signal});
		if (!summary) {
			throw new BugError('The RDB upload completed before the RDB was checked.');
		}

		if (fetched.totalBytes !== null && stored.bytes !== fetched.totalBytes) {
			throw new ActionableError('E_SERVICE_UNAVAILABLE', `The RDB from ${fetched.server} should be ${fetched.totalBytes} bytes, but ${stored.bytes} were stored.`, {
				nextStep: 'Run the backup again.',
			});
		}

		meter.done({sha256: stored.sha256});
		const replicationOffset = fetched.replicationOffset ?? numberOrNull(summary.aux['repl-offset']) ?? facts.replicationOffset;
		return {
			serverVersion: summary.aux['redis-ver'] ?? facts.serverVersion,
			mode: 'sync',
			rdbVersion: summary.rdbVersion ?? 0,
			replicationId: fetched.replicationId ?? summary.aux['repl-id'] ?? facts.replicationId,
			replicationOffset,
			keysPerDatabase: summary.keysPerDatabase,
			artifact: {key: options.key, bytes: stored.bytes, sha256: stored.sha256, format: 'rdb'},
		};
	} finally {
		fetched.stream.destroy();
	}
}

async function backupByDump(options: BackupRedisOptions, facts: RedisServerFacts): Promise<RedisManifestPart> {
	const onEvent = options.onEvent ?? (() => {});
	onEvent({type: 'backup:step', message: `Redis: dumping ${options.endpoint.display} key by key (SCAN + DUMP + PTTL).`});
	const {stream, tally} = createRedisDumpStream({
		client: options.client,
		serverVersion: facts.serverVersion,
		scanCount: options.scanCount,
		signal: options.signal,
	});
	const meter = new ProgressMeter({component: 'redis', key: options.key, operation: 'upload', totalBytes: null}, onEvent);
	try {
		const counted = meter.counter();
		// pipeline, not pipe: a failed DUMP must fail the body (and so the upload), not leave it hanging.
		pipeline(stream, counted, () => {});
		const stored = await options.target.put(options.key, counted, {signal: options.signal});
		meter.done({sha256: stored.sha256});
		if (tally.vanished > 0) {
			onEvent({type: 'backup:step', message: `Redis: ${tally.vanished} key(s) expired or were deleted between SCAN and DUMP.`});
		}

		return {
			serverVersion: facts.serverVersion,
			mode: 'dump',
			rdbVersion: tally.rdbVersion ?? 0,
			replicationId: facts.replicationId,
			replicationOffset: facts.replicationOffset,
			keysPerDatabase: tally.keysPerDatabase,
			artifact: {key: options.key, bytes: stored.bytes, sha256: stored.sha256, format: 'msdb-redis-dump-v1'},
		};
	} finally {
		stream.destroy();
	}
}

function numberOrNull(value: string | undefined): number | null {
	return value !== undefined && /^\d+$/.test(value) ? Number(value) : null;
}
