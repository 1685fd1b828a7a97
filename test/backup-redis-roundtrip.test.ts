/**
 * Redis backup → restore round trips against real servers: a source holding every type and
 * encoding in several databases, backed up in sync mode (disk-based and diskless transfers) and
 * dump mode, restored into a fresh redis-server and into a three-master cluster; every key's type,
 * value and TTL compared through the commands of its type. Also: a cluster as the source.
 */
import type {Redis} from 'ioredis';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {BackupEvent} from '../source/core/backup/backup-events.js';
import type {RedisManifestPart} from '../source/core/backup/backup-manifest-types.js';
import {backupRedis, fetchRdb, restoreRedis, verifyRedisArtifact} from '../source/core/backup/redis/index.js';
import {addressOfEndpoint} from '../source/core/backup/redis/redis-server-address.js';
import {masterNodes} from '../source/core/redis/redis-client.js';
import {
	compareSnapshots,
	createDirectoryTarget,
	fillEveryType,
	functionLibraries,
	snapshotKeyspace,
	startCluster,
	startServer,
	type KeySnapshot,
	type ServerUnderTest,
} from './backup-redis-fixtures.js';

type Target = Awaited<ReturnType<typeof createDirectoryTarget>>;

let source: ServerUnderTest;
let sourceDb0: ServerUnderTest;
let cluster: ServerUnderTest;
let backups: Target;
let sourceSnapshot: Map<string, KeySnapshot>;
let sourceDb0Snapshot: Map<string, KeySnapshot>;

beforeAll(async () => {
	[source, sourceDb0, cluster, backups] = await Promise.all([startServer(), startServer(), startCluster(), createDirectoryTarget()]);
	await fillEveryType(source.client as Redis);
	await fillEveryType(sourceDb0.client as Redis, {databases: [0]});
	sourceSnapshot = await snapshotKeyspace(source.client);
	sourceDb0Snapshot = await snapshotKeyspace(sourceDb0.client);
});

afterAll(async () => {
	await Promise.all([source?.stop(), sourceDb0?.stop(), cluster?.stop(), backups?.remove()]);
});

function expectedCounts(snapshot: Map<string, KeySnapshot>): Record<string, number> {
	const counts: Record<string, number> = {};
	for (const key of snapshot.keys()) {
		const db = key.split('/')[0]!;
		counts[db] = (counts[db] ?? 0) + 1;
	}

	return counts;
}

async function setDiskless(server: ServerUnderTest, diskless: boolean): Promise<void> {
	await (server.client as Redis).config('SET', 'repl-diskless-sync', diskless ? 'yes' : 'no');
}

describe('the source', () => {
	it('holds every type in its small and large encodings, in several databases, with TTLs', async () => {
		const client = source.client as Redis;
		const encodings = new Set<string>();
		for (const db of [0, 3, 7]) {
			await client.select(db);
			for (const key of await client.keys('*')) {
				encodings.add(`${await client.type(key)}:${String(await client.object('ENCODING', key))}`);
			}
		}

		await client.select(0);
		for (const expected of [
			'string:int', 'string:embstr', 'string:raw',
			'hash:listpack', 'hash:hashtable',
			'list:quicklist',
			'set:intset', 'set:hashtable',
			'zset:listpack', 'zset:skiplist',
			'stream:stream',
		]) {
			expect(encodings).toContain(expected);
		}

		expect(expectedCounts(sourceSnapshot)).toEqual({0: expect.any(Number), 3: expect.any(Number), 7: expect.any(Number)});
		expect([...sourceSnapshot.values()].filter(key => key.expireAtMs > 0).length).toBe(9);
	});
});

describe('fetchRdb', () => {
	it.each([
		['disk-based ($<length>)', false, 'disk'],
		['diskless ($EOF:<mark>)', true, 'diskless'],
	] as const)('reads the %s payload form and leaves no replica behind', async (_name, diskless, transfer) => {
		await setDiskless(source, diskless);
		const address = await addressOfEndpoint(source.endpoint as never);
		const fetched = await fetchRdb({source: address});
		const chunks: Buffer[] = [];
		for await (const chunk of fetched.stream) {
			chunks.push(chunk as Buffer);
		}

		const rdb = Buffer.concat(chunks);
		expect(fetched.transfer).toBe(transfer);
		expect(fetched.totalBytes).toBe(diskless ? null : rdb.length);
		expect(rdb.subarray(0, 9).toString()).toBe('REDIS0010');
		// The diskless form ends with a 40-byte mark that must not be part of the RDB: the file ends
		// with EOF (0xff) and an 8-byte checksum.
		expect(rdb[rdb.length - 9]).toBe(0xff);
		expect(fetched.replicationId).toMatch(/^[0-9a-f]{40}$/);
		expect(fetched.replicationOffset).toEqual(expect.any(Number));
		// The replica connection is closed as soon as the payload has arrived.
		await expect.poll(async () => (await (source.client as Redis).info('replication')).match(/connected_slaves:(\d+)/)?.[1], {timeout: 5000}).toBe('0');
	});
});

describe.each([
	['sync, disk-based', 'sync', false],
	['sync, diskless', 'sync', true],
	['dump', 'dump', false],
] as const)('backup (%s) and restore', (name, mode, diskless) => {
	let part: RedisManifestPart;
	let events: BackupEvent[];

	beforeAll(async () => {
		await setDiskless(source, diskless);
		events = [];
		part = await backupRedis({
			endpoint: source.endpoint,
			client: source.client,
			target: backups.target,
			key: `roundtrip-${name.replace(/\W+/g, '-')}/redis.${mode === 'sync' ? 'rdb' : 'dump'}`,
			mode,
			onEvent: event => events.push(event),
		});
	});

	it('records the manifest part: mode, versions, replication position, keys per database, size and sha256', () => {
		expect(part).toMatchObject({
			serverVersion: expect.stringMatching(/^7\./),
			mode,
			rdbVersion: 10,
			replicationId: expect.stringMatching(/^[0-9a-f]{40}$/),
			replicationOffset: expect.any(Number),
			keysPerDatabase: expectedCounts(sourceSnapshot),
			artifact: {format: mode === 'sync' ? 'rdb' : 'msdb-redis-dump-v1', bytes: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/)},
		});
		expect(events.some(event => event.type === 'artifact:done' && event.operation === 'upload')).toBe(true);
	});

	it('verifies: size, sha256, checksums and key counts agree with the manifest', async () => {
		const verification = await verifyRedisArtifact({target: backups.target, part});
		expect(verification.problems).toEqual([]);
		expect(verification.ok).toBe(true);
		expect(verification.keysPerDatabase).toEqual(part.keysPerDatabase);
	});

	it('restores into a fresh redis-server: every key, type, value and TTL, in its own database', async () => {
		const fresh = await startServer();
		try {
			const events: BackupEvent[] = [];
			const result = await restoreRedis({target: backups.target, part, client: fresh.client, onEvent: event => events.push(event)});
			expect(result.problems).toEqual([]);
			expect(result.restored).toBe(sourceSnapshot.size);
			expect(result.skippedExpired).toBe(0);
			expect(result.targetRdbVersion).toBe(10);
			expect(compareSnapshots(sourceSnapshot, await snapshotKeyspace(fresh.client))).toEqual([]);
			expect(await functionLibraries(fresh.client as Redis)).toEqual(['msdbtest']);
			expect(events.at(-1)).toEqual({type: 'restore:keys', restored: sourceSnapshot.size, total: sourceSnapshot.size});
		} finally {
			await fresh.stop();
		}
	});
});

describe.each(['sync', 'dump'] as const)('restore into a three-master cluster (%s backup of database 0)', mode => {
	it('places every key on the master of its slot, with its type, value and TTL', async () => {
		const part = await backupRedis({endpoint: sourceDb0.endpoint, client: sourceDb0.client, target: backups.target, key: `cluster-${mode}/redis.bin`, mode});
		await Promise.all(masterNodes(cluster.client).map(async node => node.flushall()));
		const result = await restoreRedis({target: backups.target, part, client: cluster.client});
		expect(result.problems).toEqual([]);
		expect(result.restored).toBe(sourceDb0Snapshot.size);
		// Every key (binary names included) was sent straight to the master of its slot.
		expect(result.redirected).toBe(0);
		expect(compareSnapshots(sourceDb0Snapshot, await snapshotKeyspace(cluster.client))).toEqual([]);
		// Keys were spread over every master, not funnelled through one.
		const sizes = await Promise.all(masterNodes(cluster.client).map(async node => node.dbsize()));
		expect(sizes.every(size => size > 0)).toBe(true);
		for (const node of masterNodes(cluster.client)) {
			expect(await functionLibraries(node)).toEqual(['msdbtest']);
		}
	});
});

describe('a cluster as the source', () => {
	it('auto mode dumps every master; the artifact restores into a standalone server', async () => {
		await Promise.all(masterNodes(cluster.client).map(async node => node.flushall()));
		const seed = await backupRedis({endpoint: sourceDb0.endpoint, client: sourceDb0.client, target: backups.target, key: 'cluster-source-seed/redis.rdb', mode: 'sync'});
		await restoreRedis({target: backups.target, part: seed, client: cluster.client});
		const events: BackupEvent[] = [];
		const part = await backupRedis({endpoint: cluster.endpoint, client: cluster.client, target: backups.target, key: 'cluster-source/redis.dump', onEvent: event => events.push(event)});
		expect(part.mode).toBe('dump');
		expect(part.replicationId).toBeNull();
		expect(part.keysPerDatabase).toEqual({0: sourceDb0Snapshot.size});
		expect(events).toContainEqual({type: 'backup:step', message: expect.stringContaining('every master')});
		const fresh = await startServer();
		try {
			await restoreRedis({target: backups.target, part, client: fresh.client});
			expect(compareSnapshots(sourceDb0Snapshot, await snapshotKeyspace(fresh.client))).toEqual([]);
		} finally {
			await fresh.stop();
		}
	});

	it('sync mode is refused for a cluster', async () => {
		await expect(backupRedis({endpoint: cluster.endpoint, client: cluster.client, target: backups.target, key: 'never/redis.rdb', mode: 'sync'})).rejects.toMatchObject({
			code: 'E_BAD_ARGUMENT',
		});
	});
});
