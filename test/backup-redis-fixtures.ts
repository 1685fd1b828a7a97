/**
 * Shared by the test/backup-redis*.test.ts files: private servers (plain, with a config file, a
 * cluster), a dataset holding every Redis type and encoding, and a by-type snapshot of a server's
 * keyspace for comparing a source with a restore (DUMP bytes can differ after a reload, since a
 * hash table's order changes, so values are compared through the commands of their type).
 */
import {randomBytes} from 'node:crypto';
import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import type {Redis} from 'ioredis';
import {startLocalRedis, startLocalRedisCluster, type LocalRedis, type LocalRedisCluster} from '../source/core/provision/index.js';
import {startRedisServerProcess} from '../source/core/provision/redis-server-process.js';
import {createWorkDirectory} from '../source/core/provision/work-directory.js';
import {DirectoryTarget} from '../source/core/backup/targets/directory-target.js';
import {createRedisClient} from '../source/core/redis/create-redis-client.js';
import {masterNodes, type RedisClient} from '../source/core/redis/redis-client.js';
import {parseRedisUrl, type RedisEndpoint} from '../source/core/redis/redis-config.js';

const COMMAND_TIMEOUT_MS = 20_000;

/** A Redis under test: its URL, parsed endpoint, a client configured as production configures them. */
export type ServerUnderTest = {
	url: string;
	endpoint: RedisEndpoint;
	client: RedisClient;
	stop(): Promise<void>;
};

function connect(url: string): {endpoint: RedisEndpoint; client: RedisClient} {
	const endpoint = parseRedisUrl(url, 'default');
	const {client} = createRedisClient(endpoint, {connectionName: 'msdb:test', commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: COMMAND_TIMEOUT_MS});
	return {endpoint, client};
}

/** A private redis-server (no persistence, empty) with a client. */
export async function startServer(): Promise<ServerUnderTest & {local: LocalRedis}> {
	const local = await startLocalRedis();
	const {endpoint, client} = connect(local.url);
	// Redis 7 waits 5 s before a diskless full sync, hoping more replicas join.
	await (client as Redis).config('SET', 'repl-diskless-sync-delay', '0');
	return {
		url: local.url,
		endpoint,
		client,
		local,
		stop: async () => {
			client.disconnect();
			await local.stop();
		},
	};
}

/** A private three-master cluster with a cluster client. */
export async function startCluster(): Promise<ServerUnderTest & {cluster: LocalRedisCluster}> {
	const cluster = await startLocalRedisCluster({masters: 3});
	const {endpoint, client} = connect(cluster.url);
	await client.ping();
	return {
		url: cluster.url,
		endpoint,
		client,
		cluster,
		stop: async () => {
			client.disconnect();
			await cluster.stop();
		},
	};
}

/** A private redis-server started from a config file holding `lines` (e.g. rename-command). */
export async function startServerWithConfig(lines: readonly string[]): Promise<ServerUnderTest> {
	const directory = await createWorkDirectory('msdb-redis-config-');
	const config = path.join(directory.path, 'redis.conf');
	await writeFile(config, `${lines.join('\n')}\n`);
	const redisServer = 'redis-server';
	const {server, port} = await startRedisServerProcess({redisServer, directory: directory.path, leadingArgs: [config], nextStep: 'See the log above.'});
	const url = `redis://127.0.0.1:${port}`;
	const {endpoint, client} = connect(url);
	return {
		url,
		endpoint,
		client,
		stop: async () => {
			client.disconnect();
			await server.stop();
			await directory.remove();
		},
	};
}

/** A fresh directory target (the real implementation) in a temp folder. */
export async function createDirectoryTarget(): Promise<{target: DirectoryTarget; root: string; remove(): Promise<void>}> {
	const directory = await createWorkDirectory('msdb-redis-backups-');
	return {target: new DirectoryTarget(directory.path), root: directory.path, remove: directory.remove};
}

/** One-hour TTLs: far from expiring during a test, easy to compare within a second. */
export const TTL_MS = 3_600_000;

const FUNCTION_LIBRARY = "#!lua name=msdbtest\nredis.register_function('msdb_echo', function(keys, args) return args[1] end)";

/**
 * Fills `client` (a standalone server, or db 0 only) with every type in small and large
 * encodings, keys with TTLs, odd key names, and (standalone) keys in databases 0, 3 and 7.
 */
export async function fillEveryType(client: Redis, options: {databases?: readonly number[]; functions?: boolean} = {}): Promise<void> {
	const databases = options.databases ?? [0, 3, 7];
	for (const db of databases) {
		await client.select(db);
		const p = `db${db}:`;
		const pipeline = client.pipeline();
		pipeline.set(`${p}string:int`, '123456789');
		pipeline.set(`${p}string:negative`, '-42');
		pipeline.set(`${p}string:short`, 'hello');
		pipeline.set(`${p}string:empty`, '');
		pipeline.set(`${p}string:long-random`, randomBytes(20_000));
		pipeline.set(`${p}string:lzf`, 'abcdefgh'.repeat(4000));
		pipeline.set(`${p}string:binary`, Buffer.from([0, 1, 2, 255, 254, 13, 10, 0]));
		pipeline.set(`${p}string:ttl`, 'expires later', 'PX', TTL_MS);
		pipeline.hset(`${p}hash:listpack`, {a: '1', b: 'two', c: '3.5'});
		pipeline.hset(`${p}hash:hashtable`, Object.fromEntries(Array.from({length: 600}, (_, i) => [`field-${i}`, `value-${i}-${'x'.repeat(i % 50)}`])));
		pipeline.hset(`${p}hash:long-value`, {k: 'v'.repeat(200)});
		pipeline.pexpire(`${p}hash:listpack`, TTL_MS);
		pipeline.rpush(`${p}list:small`, 'a', 'b', 'c', '1', '2');
		pipeline.rpush(`${p}list:large`, ...Array.from({length: 30_000}, (_, i) => `item-${i}-${i % 7 === 0 ? 'y'.repeat(100) : ''}`));
		pipeline.rpush(`${p}list:compressible`, ...Array.from({length: 2000}, () => 'z'.repeat(300)));
		pipeline.sadd(`${p}set:intset`, 1, 2, 3, -5, 1_000_000_000_000);
		pipeline.sadd(`${p}set:small-strings`, 'alpha', 'beta', 'gamma');
		pipeline.sadd(`${p}set:hashtable`, ...Array.from({length: 1000}, (_, i) => `member-${i}`));
		pipeline.zadd(`${p}zset:listpack`, 1, 'one', 2.5, 'two-and-a-half', -3, 'minus-three');
		pipeline.zadd(`${p}zset:skiplist`, ...Array.from({length: 500}, (_, i) => [String(i / 7), `m-${i}`]).flat());
		pipeline.zadd(`${p}zset:infinite`, 'inf', 'top', '-inf', 'bottom', 0, 'zero');
		pipeline.pexpire(`${p}zset:skiplist`, TTL_MS * 2);
		pipeline.set(`${p}${'long-key-name-'.repeat(10)}`, 'a key name long enough to be LZF-compressed');
		pipeline.set(Buffer.concat([Buffer.from(p), Buffer.from([0xff, 0xfe, 0x00, 0x41])]), 'binary key name');
		await pipeline.exec();
		if (db === databases[0]) {
			// Integer-looking key names are stored int-encoded in an RDB.
			await client.set('12345', 'int-encoded key name');
			await client.set('-7', 'negative int key name');
		}

		await fillStream(client, `${p}stream`);
		await client.xadd(`${p}stream:empty`, '1-1', 'f', 'v');
		await client.xdel(`${p}stream:empty`, '1-1');
	}

	await client.select(0);
	if (options.functions ?? true) {
		await client.call('FUNCTION', 'LOAD', 'REPLACE', FUNCTION_LIBRARY);
	}
}

async function fillStream(client: Redis, key: string): Promise<void> {
	const pipeline = client.pipeline();
	for (let index = 0; index < 300; index++) {
		pipeline.xadd(key, '*', 'n', String(index), 'payload', 'p'.repeat(index % 40));
	}

	await pipeline.exec();
	await client.xgroup('CREATE', key, 'workers', '0');
	await client.xgroup('CREATE', key, 'auditors', '$');
	await client.xreadgroup('GROUP', 'workers', 'alice', 'COUNT', 5, 'STREAMS', key, '>');
	const delivered = (await client.xreadgroup('GROUP', 'workers', 'bob', 'COUNT', 3, 'STREAMS', key, '>')) as [string, [string, string[]][]][];
	const firstOfBob = delivered[0]?.[1][0]?.[0];
	if (firstOfBob) {
		await client.xack(key, 'workers', firstOfBob);
	}

	await client.xdel(key, (await client.xrange(key, '-', '+', 'COUNT', 1))[0]![0]);
}

/** One key's content, read through the commands of its type; its absolute expiry (PEXPIRETIME: -1 for none). */
export type KeySnapshot = {type: string; value: unknown; expireAtMs: number};

/** Every key of every database (a cluster: of database 0 on every master), by type. Key names are hex. */
export async function snapshotKeyspace(client: RedisClient): Promise<Map<string, KeySnapshot>> {
	const snapshot = new Map<string, KeySnapshot>();
	for (const node of masterNodes(client)) {
		const connection = node.duplicate({connectionName: 'msdb:test-snapshot', commandTimeout: COMMAND_TIMEOUT_MS});
		try {
			const keyspace = await connection.info('keyspace');
			const databases = [...keyspace.matchAll(/^db(\d+):/gm)].map(match => Number(match[1]));
			for (const db of databases) {
				await connection.select(db);
				let cursor = '0';
				do {
					const [next, keys] = await connection.scanBuffer(cursor, 'COUNT', 1000);
					cursor = next.toString();
					for (const key of keys) {
						snapshot.set(`${db}/${key.toString('hex')}`, await snapshotKey(connection, key));
					}
				} while (cursor !== '0');
			}
		} finally {
			connection.disconnect();
		}
	}

	return snapshot;
}

async function snapshotKey(client: Redis, key: Buffer): Promise<KeySnapshot> {
	const type = await client.type(key);
	// Absolute, so snapshots taken at different times compare; PTTL would shrink in between.
	const expireAtMs = Number(await client.call('PEXPIRETIME', key));
	switch (type) {
		case 'string': {
			return {type, expireAtMs, value: (await client.getBuffer(key))?.toString('hex')};
		}

		case 'hash': {
			const all = await client.hgetallBuffer(key);
			return {type, expireAtMs, value: Object.entries(all).map(([field, value]) => `${field}=${value.toString('hex')}`).sort()};
		}

		case 'list': {
			return {type, expireAtMs, value: (await client.lrangeBuffer(key, 0, -1)).map(item => item.toString('hex'))};
		}

		case 'set': {
			return {type, expireAtMs, value: (await client.smembersBuffer(key)).map(item => item.toString('hex')).sort()};
		}

		case 'zset': {
			return {type, expireAtMs, value: await client.zrange(key, 0, -1, 'WITHSCORES')};
		}

		case 'stream': {
			const entries = await client.xrange(key, '-', '+');
			const info = (await client.call('XINFO', 'STREAM', key)) as unknown[];
			const groups = (await client.call('XINFO', 'GROUPS', key)) as unknown[][];
			const consumers: unknown[] = [];
			const pending: unknown[] = [];
			for (const group of groups) {
				const name = String(group[group.indexOf('name') + 1]);
				const members = (await client.call('XINFO', 'CONSUMERS', key, name)) as unknown[][];
				// seen/idle times differ by when each was read; names and pending counts must not.
				consumers.push(members.map(member => [member[member.indexOf('name') + 1], member[member.indexOf('pending') + 1]]));
				const details = (await client.call('XPENDING', key, name, '-', '+', '1000')) as unknown[][];
				pending.push(details.map(([id, consumer, , deliveries]) => [id, consumer, deliveries]));
			}

			const field = (name: string) => info[info.indexOf(name) + 1];
			return {
				type,
				expireAtMs,
				value: {
					entries,
					length: field('length'),
					lastGeneratedId: field('last-generated-id'),
					maxDeletedEntryId: field('max-deleted-entry-id'),
					entriesAdded: field('entries-added'),
					recordedFirstEntryId: field('recorded-first-entry-id'),
					groups,
					consumers,
					pending,
				},
			};
		}

		default: {
			return {type, expireAtMs, value: null};
		}
	}
}

/** The differences between two snapshots, expiry times compared within `ttlToleranceMs`; empty when equal. */
export function compareSnapshots(source: Map<string, KeySnapshot>, restored: Map<string, KeySnapshot>, ttlToleranceMs = 1000): string[] {
	const differences: string[] = [];
	for (const [key, expected] of source) {
		const actual = restored.get(key);
		if (!actual) {
			differences.push(`${key}: missing`);
			continue;
		}

		if (actual.type !== expected.type) {
			differences.push(`${key}: type ${actual.type}, expected ${expected.type}`);
		} else if (JSON.stringify(actual.value) !== JSON.stringify(expected.value)) {
			differences.push(`${key}: ${expected.type} value differs`);
		}

		const ttlsMatch = expected.expireAtMs < 0 ? actual.expireAtMs === expected.expireAtMs : actual.expireAtMs > 0 && Math.abs(actual.expireAtMs - expected.expireAtMs) <= ttlToleranceMs;
		if (!ttlsMatch) {
			differences.push(`${key}: expires at ${actual.expireAtMs}, expected ${expected.expireAtMs}`);
		}
	}

	for (const key of restored.keys()) {
		if (!source.has(key)) {
			differences.push(`${key}: not in the source`);
		}
	}

	return differences;
}

/** `FUNCTION LIST` library names, sorted. */
export async function functionLibraries(client: Redis): Promise<string[]> {
	const libraries = (await client.call('FUNCTION', 'LIST')) as unknown[][];
	return libraries.map(library => String(library[library.indexOf('library_name') + 1])).sort();
}
