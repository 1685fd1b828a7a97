/**
 * The ways a Redis backup or restore must refuse or report, against real servers: a damaged
 * artifact, a backup newer than the target, a server that refuses SYNC, a cluster target for a
 * multi-database backup, RESTORE errors; and the restore options: skipping expired keys, flush.
 */
import {readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {Readable} from 'node:stream';
import {setTimeout as sleep} from 'node:timers/promises';
import type {Redis} from 'ioredis';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {BackupEvent} from '../source/core/backup/backup-events.js';
import type {RedisManifestPart} from '../source/core/backup/backup-manifest-types.js';
import {backupRedis, fetchRdb, restoreRedis, verifyRedisArtifact} from '../source/core/backup/redis/index.js';
import {startLocalRedisSentinel} from '../source/core/provision/index.js';
import {createRedisClient} from '../source/core/redis/create-redis-client.js';
import {parseRedisUrl} from '../source/core/redis/redis-config.js';
import {masterNodes} from '../source/core/redis/redis-client.js';
import {
	compareSnapshots,
	createDirectoryTarget,
	fillEveryType,
	snapshotKeyspace,
	startCluster,
	startServer,
	startServerWithConfig,
	type ServerUnderTest,
} from './backup-redis-fixtures.js';

type Target = Awaited<ReturnType<typeof createDirectoryTarget>>;

let source: ServerUnderTest;
let backups: Target;
let syncPart: RedisManifestPart;
let dumpPart: RedisManifestPart;

beforeAll(async () => {
	[source, backups] = await Promise.all([startServer(), createDirectoryTarget()]);
	await fillEveryType(source.client as Redis, {databases: [0, 2]});
	syncPart = await backupRedis({endpoint: source.endpoint, client: source.client, target: backups.target, key: 'base/redis.rdb', mode: 'sync'});
	dumpPart = await backupRedis({endpoint: source.endpoint, client: source.client, target: backups.target, key: 'base/redis.dump', mode: 'dump'});
});

afterAll(async () => {
	await Promise.all([source?.stop(), backups?.remove()]);
});

/** Copies an artifact to `key` with `patch` applied; returns the part describing the copy as-is (its old sha256). */
async function patchedCopy(part: RedisManifestPart, key: string, patch: (bytes: Buffer) => void): Promise<RedisManifestPart> {
	const bytes = await readFile(path.join(backups.root, part.artifact.key));
	patch(bytes);
	await backups.target.put(key, Readable.from([bytes]));
	return {...part, artifact: {...part.artifact, key}};
}

describe('a damaged artifact', () => {
	it.each([
		['RDB', () => syncPart],
		['dump', () => dumpPart],
	] as const)('verify reports one flipped byte of the %s artifact, naming it', async (name, part) => {
		const original = part();
		const key = `flipped-${name}/artifact`;
		const damaged = await patchedCopy(original, key, bytes => {
			const at = Math.floor(bytes.length / 2);
			bytes[at] = bytes[at]! ^ 0x01;
		});
		const verification = await verifyRedisArtifact({target: backups.target, part: damaged});
		expect(verification.ok).toBe(false);
		const messages = verification.problems.map(problem => problem.message);
		expect(messages.some(message => /sha256/.test(message))).toBe(true);
		// The format's own check catches it too, independently of the manifest's hash.
		expect(messages.some(message => /CRC64|not valid/.test(message))).toBe(true);
		for (const problem of verification.problems) {
			expect(problem).toMatchObject({component: 'redis', artifact: key});
			expect(problem.message).toContain(key);
		}
	});

	it('verify reports a truncated artifact and one missing from the target', async () => {
		const truncated = await patchedCopy(syncPart, 'truncated/redis.rdb', () => {});
		const bytes = await readFile(path.join(backups.root, syncPart.artifact.key));
		await writeFile(path.join(backups.root, 'truncated/redis.rdb'), bytes.subarray(0, bytes.length - 100));
		const verification = await verifyRedisArtifact({target: backups.target, part: truncated});
		expect(verification.problems.map(problem => problem.message)).toEqual(
			expect.arrayContaining([expect.stringContaining('bytes; the manifest records'), expect.stringContaining('truncated')]),
		);
		const missing = await verifyRedisArtifact({target: backups.target, part: {...syncPart, artifact: {...syncPart.artifact, key: 'nowhere/redis.rdb'}}});
		expect(missing).toMatchObject({ok: false, problems: [{artifact: 'nowhere/redis.rdb', message: expect.stringContaining('missing')}]});
	});
});

describe('an RDB newer than the target', () => {
	let target: ServerUnderTest;

	beforeAll(async () => {
		target = await startServer();
	});

	afterAll(async () => {
		await target?.stop();
	});

	async function expectUntouched(run: () => Promise<unknown>, code: string): Promise<void> {
		await (target.client as Redis).flushall();
		await (target.client as Redis).set('marker', 'still here');
		await expect(run()).rejects.toMatchObject({code});
		// Refused before anything was written, flush included.
		expect(await (target.client as Redis).dbsize()).toBe(1);
		expect(await (target.client as Redis).get('marker')).toBe('still here');
	}

	it('is refused before any key is written when the artifact header says so (manifest unchanged)', async () => {
		const newer = await patchedCopy(syncPart, 'newer-header/redis.rdb', bytes => bytes.write('0011', 5, 'latin1'));
		await expectUntouched(async () => restoreRedis({target: backups.target, part: newer, client: target.client, flush: true}), 'E_RDB_VERSION_NEWER');
	});

	it('is refused up front when the manifest says so', async () => {
		await expectUntouched(async () => restoreRedis({target: backups.target, part: {...syncPart, rdbVersion: 11}, client: target.client, flush: true}), 'E_RDB_VERSION_NEWER');
	});

	it('an RDB version beyond what msdb reads is refused clearly, by restore and by verify', async () => {
		const future = await patchedCopy(syncPart, 'future/redis.rdb', bytes => bytes.write('0099', 5, 'latin1'));
		await expectUntouched(async () => restoreRedis({target: backups.target, part: future, client: target.client, flush: true}), 'E_RDB_VERSION_NEWER');
		const verification = await verifyRedisArtifact({target: backups.target, part: future});
		expect(verification.problems.map(problem => problem.message)).toContainEqual(expect.stringMatching(/format version 99, newer than this msdb can read/));
	});
});

describe('a server that refuses SYNC', () => {
	let locked: ServerUnderTest;

	beforeAll(async () => {
		locked = await startServerWithConfig(['rename-command SYNC ""', 'rename-command PSYNC ""']);
		await fillEveryType(locked.client as Redis, {databases: [0, 4], functions: false});
	});

	afterAll(async () => {
		await locked?.stop();
	});

	it('fetchRdb and sync mode fail with E_REDIS_SYNC_REFUSED, pointing at dump mode', async () => {
		await expect(fetchRdb({source: locked.endpoint as never})).rejects.toMatchObject({code: 'E_REDIS_SYNC_REFUSED', nextStep: expect.stringContaining('dump')});
		await expect(backupRedis({endpoint: locked.endpoint, client: locked.client, target: backups.target, key: 'locked-sync/redis.rdb', mode: 'sync'})).rejects.toMatchObject({
			code: 'E_REDIS_SYNC_REFUSED',
		});
		expect(await backups.target.exists('locked-sync/redis.rdb')).toBe(false);
	});

	it('auto mode falls back to dump mode, and that backup restores', async () => {
		const events: BackupEvent[] = [];
		const part = await backupRedis({endpoint: locked.endpoint, client: locked.client, target: backups.target, key: 'locked-auto/redis.bin', onEvent: event => events.push(event)});
		expect(part.mode).toBe('dump');
		expect(part.artifact.format).toBe('msdb-redis-dump-v1');
		expect(events).toContainEqual({type: 'backup:step', message: expect.stringContaining('Falling back to dump mode')});
		const fresh = await startServer();
		try {
			await restoreRedis({target: backups.target, part, client: fresh.client});
			expect(compareSnapshots(await snapshotKeyspace(locked.client), await snapshotKeyspace(fresh.client))).toEqual([]);
		} finally {
			await fresh.stop();
		}
	});
});

describe('restore options', () => {
	let target: ServerUnderTest;

	beforeAll(async () => {
		target = await startServer();
	});

	afterAll(async () => {
		await target?.stop();
	});

	it.each(['sync', 'dump'] as const)('skips keys whose absolute expiry has passed, and counts them (%s)', async mode => {
		const short = await startServer();
		try {
			const client = short.client as Redis;
			await client.set('lasting', 'stays');
			await client.select(5);
			await client.set('lasting-5', 'stays');
			for (let index = 0; index < 7; index++) {
				await client.set(`fleeting-${index}`, 'gone soon', 'PX', 2500);
			}

			await client.select(0);
			const part = await backupRedis({endpoint: short.endpoint, client: short.client, target: backups.target, key: `expiring-${mode}/redis.bin`, mode});
			expect(part.keysPerDatabase).toEqual({0: 1, 5: 8});
			await sleep(2600);
			await (target.client as Redis).flushall();
			const result = await restoreRedis({target: backups.target, part, client: target.client});
			expect(result).toMatchObject({restored: 2, skippedExpired: 7, restoredPerDatabase: {0: 1, 5: 1}, problems: []});
			const restored = target.client as Redis;
			await restored.select(5);
			expect(await restored.keys('*')).toEqual(['lasting-5']);
			await restored.select(0);
		} finally {
			await short.stop();
		}
	});

	it('flush empties every database of the target first; without it, other keys stay', async () => {
		const client = target.client as Redis;
		const seed = async () => {
			await client.flushall();
			await client.set('unrelated', 'x');
			await client.select(9);
			await client.set('unrelated-9', 'x');
			await client.select(0);
		};

		await seed();
		await restoreRedis({target: backups.target, part: syncPart, client: target.client});
		expect(await client.exists('unrelated')).toBe(1);
		await seed();
		const result = await restoreRedis({target: backups.target, part: syncPart, client: target.client, flush: true});
		expect(result.problems).toEqual([]);
		expect(await client.exists('unrelated')).toBe(0);
		await client.select(9);
		expect(await client.dbsize()).toBe(0);
		await client.select(0);
		expect(compareSnapshots(await snapshotKeyspace(source.client), await snapshotKeyspace(target.client))).toEqual([]);
	});

	it('a RESTORE the target refuses fails the restore, naming the key and the reason', async () => {
		const client = target.client as Redis;
		await client.flushall();
		// Room for the restore's version probe, not for the backup's larger values.
		const used = Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1]);
		await client.config('SET', 'maxmemory', String(used + 200_000));
		try {
			await expect(restoreRedis({target: backups.target, part: syncPart, client: target.client})).rejects.toMatchObject({
				code: 'E_REDIS_RESTORE_FAILED',
				// Which key meets the limit first depends on the RDB's order: it may be binary (shown in hex)
				// or long (cut, with its length).
				message: expect.stringMatching(/refused to RESTORE the key (".*"|0x[\da-f]+)(… \(\d+ bytes\))? \(database \d+\): OOM/),
			});
		} finally {
			await client.config('SET', 'maxmemory', '0');
		}
	});
});

describe('a cluster target', () => {
	it('refuses a backup with keys outside database 0, naming the databases, and writes nothing', async () => {
		const cluster = await startCluster();
		try {
			await expect(restoreRedis({target: backups.target, part: syncPart, client: cluster.client, flush: true})).rejects.toMatchObject({
				code: 'E_REDIS_RESTORE_REFUSED',
				message: expect.stringContaining(`database(s) 2 (${syncPart.keysPerDatabase['2']} keys)`),
			});
			const sizes = await Promise.all(masterNodes(cluster.client).map(async node => node.dbsize()));
			expect(sizes).toEqual([0, 0, 0]);
		} finally {
			await cluster.stop();
		}
	});
});

describe('a server with a password', () => {
	it('backs up (sync and dump) and restores through AUTH; a wrong password fails without showing it', async () => {
		const password = 'pw-that-must-not-leak-7f3a';
		const guarded = await startServer();
		// Set after start: the harness's readiness probe does not log in.
		await (guarded.client as Redis).config('SET', 'requirepass', password);
		const url = (secret: string) => guarded.url.replace('redis://', `redis://:${secret}@`);
		const withPassword = parseRedisUrl(url(password), 'default');
		const {client} = createRedisClient(withPassword, {commandTimeoutMs: 10_000});
		try {
			await (client as Redis).set('guarded', 'value');
			for (const mode of ['sync', 'dump'] as const) {
				const part = await backupRedis({endpoint: withPassword, client, target: backups.target, key: `guarded-${mode}/redis.bin`, mode});
				expect(part.keysPerDatabase).toEqual({0: 1});
				await (client as Redis).flushall();
				await restoreRedis({target: backups.target, part, client});
				expect(await (client as Redis).get('guarded')).toBe('value');
			}

			const wrong = parseRedisUrl(url('wrong-password-9c1e'), 'default');
			const error = await fetchRdb({source: wrong as never}).catch((caught: unknown) => caught);
			expect(error).toMatchObject({code: 'E_REDIS_UNAVAILABLE', message: expect.stringMatching(/refused AUTH: WRONGPASS/)});
			expect(JSON.stringify({message: (error as Error).message, details: (error as {details?: unknown}).details})).not.toContain('wrong-password-9c1e');
		} finally {
			client.disconnect();
			await guarded.stop();
		}
	});
});

describe('cancellation', () => {
	let big: ServerUnderTest;

	beforeAll(async () => {
		big = await startServer();
		const client = big.client as Redis;
		for (let batch = 0; batch < 20; batch++) {
			const pipeline = client.pipeline();
			for (let index = 0; index < 10_000; index++) {
				pipeline.set(`key:${batch}:${index}`, `value-${index}-${'v'.repeat(100)}`);
			}

			await pipeline.exec();
		}
	});

	afterAll(async () => {
		await big?.stop();
	});

	it.each(['sync', 'dump'] as const)('a backup stopped mid-transfer (%s) keeps no artifact and leaves no replica', async mode => {
		const controller = new AbortController();
		const key = `cancelled-${mode}/redis.bin`;
		await expect(
			backupRedis({
				endpoint: big.endpoint,
				client: big.client,
				target: backups.target,
				key,
				mode,
				signal: controller.signal,
				onEvent: event => {
					if (event.type === 'artifact:progress' && event.bytes > 0) {
						controller.abort();
					}
				},
			}),
		).rejects.toMatchObject({code: 'E_CANCELLED'});
		expect(await backups.target.exists(key)).toBe(false);
		expect((await backups.target.list(`cancelled-${mode}/`)).length).toBe(0);
		await expect.poll(async () => (await (big.client as Redis).info('replication')).match(/connected_slaves:(\d+)/)?.[1], {timeout: 5000}).toBe('0');
	});

	it('a restore stopped midway says how far it got', async () => {
		const part = await backupRedis({endpoint: big.endpoint, client: big.client, target: backups.target, key: 'to-cancel/redis.rdb', mode: 'sync'});
		const fresh = await startServer();
		const controller = new AbortController();
		try {
			await expect(
				restoreRedis({
					target: backups.target,
					part,
					client: fresh.client,
					signal: controller.signal,
					onEvent: event => {
						if (event.type === 'artifact:progress' && event.bytes > 0) {
							controller.abort();
						}
					},
				}),
			).rejects.toMatchObject({code: 'E_CANCELLED', message: expect.stringMatching(/\d+ key\(s\) were restored before the stop/)});
			expect(await (fresh.client as Redis).dbsize()).toBeLessThan(200_000);
		} finally {
			await fresh.stop();
		}
	});
});

describe('a Sentinel-managed primary', () => {
	it('is backed up in sync mode from the primary the Sentinel names', async () => {
		const sentinel = await startLocalRedisSentinel();
		const endpoint = parseRedisUrl(sentinel.url, 'default');
		const {client} = createRedisClient(endpoint, {commandTimeoutMs: 10_000});
		const primary = createRedisClient(parseRedisUrl(sentinel.primaryUrl, 'default'), {commandTimeoutMs: 10_000}).client as Redis;
		try {
			await primary.config('SET', 'repl-diskless-sync-delay', '0');
			await primary.set('behind-sentinel', 'yes');
			const part = await backupRedis({endpoint, client, target: backups.target, key: 'sentinel/redis.rdb'});
			expect(part).toMatchObject({mode: 'sync', keysPerDatabase: {0: 1}});
		} finally {
			client.disconnect();
			primary.disconnect();
			await sentinel.stop();
		}
	});
});
