/**
 * The pieces of the Redis backup format, checked against a real redis-server where it has the
 * answer: CRC64, DUMP payloads rebuilt from an RDB (byte for byte what DUMP returns, for every
 * type and encoding), the RDB parser at any chunking and against every single-byte corruption,
 * refusals of what it cannot read, and the msdb-redis-dump-v1 framing.
 */
import {randomBytes} from 'node:crypto';
import net from 'node:net';
import {setTimeout as sleep} from 'node:timers/promises';
import type {Redis} from 'ioredis';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {
	buildDumpPayload,
	crc64,
	Crc64,
	DumpStreamParser,
	fetchRdb,
	RdbParser,
	readDumpTrailer,
	type RedisArtifactSummary,
	type RedisKeyRecord,
} from '../source/core/backup/redis/index.js';
import {DumpStreamWriter} from '../source/core/backup/redis/dump-stream-writer.js';
import {rdbVersionForServer} from '../source/core/backup/redis/rdb-format.js';
import {clusterKeySlot, keySlot} from '../source/core/redis/cluster-key-slot.js';
import {fillEveryType, startServer, type ServerUnderTest} from './backup-redis-fixtures.js';

let server: ServerUnderTest;
let rdb: Buffer;

async function fetchWhole(from: ServerUnderTest): Promise<Buffer> {
	const fetched = await fetchRdb({source: from.endpoint as never});
	const chunks: Buffer[] = [];
	for await (const chunk of fetched.stream) {
		chunks.push(chunk as Buffer);
	}

	return Buffer.concat(chunks);
}

beforeAll(async () => {
	server = await startServer();
	await fillEveryType(server.client as Redis);
	// Let incremental rehashing finish, so DUMP walks each hash table in the order the RDB did.
	await sleep(300);
	rdb = await fetchWhole(server);
});

afterAll(async () => {
	await server?.stop();
});

type Parsed = {records: RedisKeyRecord[]; summary: RedisArtifactSummary; functions: number};

function parseRdb(bytes: Buffer, chunkSizes: (index: number) => number = () => 65_536): Parsed {
	const records: RedisKeyRecord[] = [];
	let functions = 0;
	const parser = new RdbParser({
		label: 'test/redis.rdb',
		// Copied: the parser hands out views into its buffers.
		onKey: record => records.push({...record, key: Buffer.from(record.key), value: Buffer.from(record.value)}),
		onFunctions: () => functions++,
	});
	let index = 0;
	for (let at = 0; at < bytes.length; index++) {
		const size = Math.max(1, chunkSizes(index));
		parser.push(bytes.subarray(at, at + size));
		at += size;
	}

	return {records, summary: parser.end(), functions};
}

describe('CRC64 (Jones, reflected)', () => {
	it('matches the check value of Redis src/crc64.c', () => {
		expect(crc64(Buffer.from('123456789')).toHex()).toBe('e9c6d914c4b8d9ca');
	});

	it('gives the same result however the input is split (slicing-by-8 vs byte at a time)', () => {
		const data = randomBytes(10_007);
		const whole = crc64(data).toHex();
		for (const step of [1, 3, 7, 8, 9, 1000]) {
			const running = new Crc64();
			for (let at = 0; at < data.length; at += step) {
				running.update(data, at, Math.min(at + step, data.length));
			}

			expect(running.toHex()).toBe(whole);
		}
	});
});

describe('the RDB parser on a real RDB (Redis 7.0, every type)', () => {
	it('reads the header, AUX fields, databases, keys and checks the CRC64', () => {
		const {summary, records, functions} = parseRdb(rdb);
		expect(summary).toMatchObject({format: 'rdb', rdbVersion: 10, checksum: 'ok', bytes: rdb.length});
		expect(summary.aux['redis-ver']).toMatch(/^7\./);
		expect(Object.keys(summary.keysPerDatabase)).toEqual(['0', '3', '7']);
		expect(summary.keys).toBe(records.length);
		expect(functions).toBe(1);
		const types = new Set(records.map(record => record.type));
		expect([...types].sort()).toEqual(['hash', 'list', 'set', 'stream', 'string', 'zset']);
		// Int-encoded and LZF-compressed key names come back as their text.
		const names = records.map(record => record.key.toString());
		expect(names).toEqual(expect.arrayContaining(['12345', '-7', `db0:${'long-key-name-'.repeat(10)}`]));
		expect(records.filter(record => record.expireAtMs !== null).length).toBe(9);
	});

	it('rebuilds, for every key, exactly the bytes DUMP returns', async () => {
		const {records} = parseRdb(rdb);
		const client = server.client as Redis;
		const encodings = new Set<number>();
		for (const record of records) {
			await client.select(record.db);
			const dumped = await client.dumpBuffer(record.key);
			expect(buildDumpPayload(record.rdbType, record.value, record.rdbVersion).equals(dumped), `${record.key.toString()} (RDB type ${record.rdbType})`).toBe(true);
			encodings.add(record.rdbType);
		}

		await client.select(0);
		// string, set, zset2, hash, intset, quicklist 2, hash/zset listpack, stream listpacks 2.
		expect([...encodings].sort((a, b) => a - b)).toEqual([0, 2, 4, 5, 11, 16, 17, 18, 19]);
	});

	it('yields the same records at any chunking, 1-byte chunks included', () => {
		const reference = parseRdb(rdb);
		const fingerprint = (parsed: Parsed) => parsed.records.map(record => `${record.db}/${record.key.toString('hex')}/${record.expireAtMs}/${crc64(record.value).toHex()}`);
		for (const sizes of [() => 1, () => 7, (index: number) => 1 + ((index * 7919) % 5000)]) {
			const parsed = parseRdb(rdb, sizes);
			expect(parsed.summary).toEqual(reference.summary);
			expect(fingerprint(parsed)).toEqual(fingerprint(reference));
		}
	});
});

describe('the RDB parser refuses what it cannot trust', () => {
	let small: Buffer;

	beforeAll(async () => {
		const tiny = await startServer();
		try {
			const client = tiny.client as Redis;
			await client.set('a', 'value');
			await client.hset('h', 'f', 'v');
			await client.set('t', 'x', 'PX', 100_000);
			small = await fetchWhole(tiny);
		} finally {
			await tiny.stop();
		}
	});

	it('detects every single flipped byte', () => {
		for (let at = 0; at < small.length; at++) {
			const damaged = Buffer.from(small);
			damaged[at] = damaged[at]! ^ 0x01;
			expect(() => parseRdb(damaged), `byte ${at}`).toThrow(expect.objectContaining({code: expect.stringMatching(/^E_RDB_/)}));
		}
	});

	it('detects truncation at any point', () => {
		for (const length of [0, 5, 9, 20, small.length - 9, small.length - 1]) {
			expect(() => parseRdb(small.subarray(0, length)), `length ${length}`).toThrow(/truncated/);
		}
	});

	it('accepts an RDB written with rdbchecksum no, and says so', () => {
		const unchecked = Buffer.from(small);
		unchecked.fill(0, unchecked.length - 8);
		expect(parseRdb(unchecked).summary.checksum).toBe('disabled');
	});

	it('refuses RDB versions it cannot read, and Valkey 9 files, with a clear message', () => {
		const withVersion = (version: string) => Buffer.concat([Buffer.from(`REDIS${version}`), small.subarray(9)]);
		expect(() => parseRdb(withVersion('0013'))).toThrow(expect.objectContaining({code: 'E_RDB_VERSION_NEWER', message: expect.stringContaining('format version 13, newer than this msdb can read (up to 12')}));
		expect(() => parseRdb(withVersion('0004'))).toThrow(expect.objectContaining({code: 'E_RDB_UNSUPPORTED'}));
		expect(() => parseRdb(Buffer.concat([Buffer.from('VALKEY080'), small.subarray(9)]))).toThrow(expect.objectContaining({code: 'E_RDB_UNSUPPORTED', message: expect.stringContaining('Valkey')}));
		expect(() => parseRdb(Buffer.from('not an rdb at all'))).toThrow(expect.objectContaining({code: 'E_RDB_INVALID', message: expect.stringContaining('test/redis.rdb')}));
	});

	it('refuses a module value, naming the key and the module type', () => {
		// ReJSON-RL, encoding version 3: 9 characters × 6 bits, then 10 bits of version.
		const charset = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
		let id = 0n;
		for (const character of 'ReJSON-RL') {
			id = (id << 6n) | BigInt(charset.indexOf(character));
		}

		const moduleId = Buffer.alloc(8);
		moduleId.writeBigUInt64BE((id << 10n) | 3n);
		const crafted = Buffer.concat([Buffer.from('REDIS0010'), Buffer.from([0xfe, 0x00, 0x07, 0x03]), Buffer.from('doc'), Buffer.from([0x81]), moduleId, Buffer.from([0x00])]);
		expect(() => parseRdb(crafted)).toThrow(
			expect.objectContaining({code: 'E_RDB_UNSUPPORTED', message: expect.stringContaining(`the key "doc" in database 0, a value of the module type 'ReJSON-RL'`)}),
		);
	});
});

describe('fetchRdb framing under adversarial TCP segmentation', () => {
	// A real RDB (from the server above) replayed by a scripted peer in 1–50 byte writes, with
	// keepalives, so the EOF mark and the `$<length>` count straddle reads in every way. A real
	// Redis on loopback sends large segments and would not exercise these paths.
	async function replay(script: (socket: net.Socket) => Promise<void>): Promise<{rdb: Buffer; fetched: Awaited<ReturnType<typeof fetchRdb>>}> {
		const server = net.createServer(socket => {
			socket.setNoDelay(true);
			let handshake = '';
			socket.on('data', async chunk => {
				handshake += chunk.toString('latin1');
				for (const command of ['REPLCONF capa eof', 'REPLCONF rdb-only 1']) {
					const encoded = command.split(' ').map(part => `$${part.length}\r\n${part}\r\n`).join('');
					if (handshake.includes(`*${command.split(' ').length}\r\n${encoded}`)) {
						handshake = handshake.replace(`*${command.split(' ').length}\r\n${encoded}`, '');
						socket.write('+OK\r\n');
					}
				}

				if (handshake.includes('PSYNC ? -1\r\n') || handshake.includes('SYNC\r\n')) {
					handshake = '';
					await script(socket);
				}
			});
		});
		await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
		const {port} = server.address() as net.AddressInfo;
		try {
			const fetched = await fetchRdb({source: {host: '127.0.0.1', port, tls: null}});
			const chunks: Buffer[] = [];
			for await (const chunk of fetched.stream) {
				chunks.push(chunk as Buffer);
			}

			return {rdb: Buffer.concat(chunks), fetched};
		} finally {
			server.close();
		}
	}

	async function trickle(socket: net.Socket, bytes: Buffer): Promise<void> {
		for (let at = 0, step = 1; at < bytes.length; at += step, step = 1 + ((step * 7 + at) % 50)) {
			socket.write(bytes.subarray(at, at + step));
			// Let each write leave, and be read, as its own segment.
			await sleep(1);
		}
	}

	it('reads a diskless payload whose EOF mark arrives split across reads, after keepalives', async () => {
		const mark = Buffer.from('a'.repeat(20) + 'b'.repeat(20));
		const {rdb, fetched} = await replay(async socket => {
			await trickle(socket, Buffer.from(`+FULLRESYNC ${'f'.repeat(40)} 1234\r\n\n\n\n$EOF:${mark.toString()}\r\n`));
			await trickle(socket, Buffer.concat([small, mark]));
		});
		expect(fetched).toMatchObject({transfer: 'diskless', totalBytes: null, replicationId: 'f'.repeat(40), replicationOffset: 1234});
		expect(rdb.equals(small)).toBe(true);
	});

	it('reads a disk-based payload by its length, ignoring what follows it', async () => {
		const {rdb, fetched} = await replay(async socket => {
			await trickle(socket, Buffer.from(`+FULLRESYNC ${'e'.repeat(40)} 99\r\n\n$${small.length}\r\n`));
			await trickle(socket, Buffer.concat([small, Buffer.from('*1\r\n$4\r\nPING\r\n')]));
		});
		expect(fetched).toMatchObject({transfer: 'disk', totalBytes: small.length});
		expect(rdb.equals(small)).toBe(true);
	});

	it('falls back from a refused PSYNC to SYNC, and reports a refused SYNC as E_REDIS_SYNC_REFUSED', async () => {
		const {rdb} = await replay(async socket => {
			if (!psyncRefused) {
				psyncRefused = true;
				socket.write('-ERR unknown command \'PSYNC\'\r\n');
				return;
			}

			socket.write(`$${small.length}\r\n`);
			socket.write(small);
		});
		expect(rdb.equals(small)).toBe(true);
		await expect(replay(async socket => void socket.write('-NOPERM this user has no permissions to run the \'sync\' command\r\n'))).rejects.toMatchObject({
			code: 'E_REDIS_SYNC_REFUSED',
			message: expect.stringContaining('NOPERM'),
		});
	});

	let psyncRefused = false;
	let small: Buffer;
	beforeAll(async () => {
		const tiny = await startServer();
		try {
			await (tiny.client as Redis).set('k', 'v'.repeat(500));
			small = await fetchWhole(tiny);
		} finally {
			await tiny.stop();
		}
	});
});

describe('msdb-redis-dump-v1', () => {
	function writeArtifact(): Buffer {
		const writer = new DumpStreamWriter();
		const payload = (text: string) => buildDumpPayload(0, Buffer.concat([Buffer.from([text.length]), Buffer.from(text)]), 10);
		return Buffer.concat([
			writer.header({serverVersion: '7.0.15', rdbVersion: 10, createdAt: '2024-01-01T00:00:00Z'}),
			writer.database(0),
			writer.key(Buffer.from('a'), null, payload('one')),
			writer.key(Buffer.from('b'), 1_900_000_000_000, payload('two')),
			writer.database(4),
			writer.key(Buffer.from('c'), null, payload('three')),
			writer.functions(Buffer.from('function payload')),
			writer.end(),
		]);
	}

	function parseDump(bytes: Buffer, chunk = 65_536): {records: RedisKeyRecord[]; summary: RedisArtifactSummary} {
		const records: RedisKeyRecord[] = [];
		const parser = new DumpStreamParser({label: 'test/redis.dump', onKey: record => records.push(record)});
		for (let at = 0; at < bytes.length; at += chunk) {
			parser.push(bytes.subarray(at, at + chunk));
		}

		return {records, summary: parser.end()};
	}

	it('round-trips keys, expiry, databases and functions at any chunking', () => {
		const artifact = writeArtifact();
		for (const chunk of [1, 5, 65_536]) {
			const {records, summary} = parseDump(artifact, chunk);
			expect(summary).toMatchObject({format: 'msdb-redis-dump-v1', rdbVersion: 10, keysPerDatabase: {0: 2, 4: 1}, keys: 3, functions: 1});
			expect(records.map(record => [record.db, record.key.toString(), record.expireAtMs, record.type, readDumpTrailer(record.dumpPayload!)])).toEqual([
				[0, 'a', null, 'string', {rdbVersion: 10, checksumOk: true}],
				[0, 'b', 1_900_000_000_000, 'string', {rdbVersion: 10, checksumOk: true}],
				[4, 'c', null, 'string', {rdbVersion: 10, checksumOk: true}],
			]);
		}
	});

	it('detects every single flipped byte and any truncation', () => {
		const artifact = writeArtifact();
		for (let at = 0; at < artifact.length; at++) {
			const damaged = Buffer.from(artifact);
			damaged[at] = damaged[at]! ^ 0x01;
			expect(() => parseDump(damaged), `byte ${at}`).toThrow(expect.objectContaining({code: expect.stringMatching(/^E_RDB_/)}));
		}

		for (let length = 0; length < artifact.length; length += 7) {
			expect(() => parseDump(artifact.subarray(0, length)), `length ${length}`).toThrow(/truncated/);
		}
	});
});

describe('helpers', () => {
	it('keySlot hashes binary key names like the cache’s clusterKeySlot hashes text', () => {
		for (const key of ['', 'a', 'user:1000', '{user1000}.following', 'foo{}{bar}', 'foo{{bar}}zap', 'é-ü-中']) {
			expect(keySlot(Buffer.from(key))).toBe(clusterKeySlot(key));
		}
	});

	it('maps server versions to the RDB version they write', () => {
		expect(['6.2.14', '7.0.15', '7.2.4', '7.4.1', '8.0.0'].map(rdbVersionForServer)).toEqual([9, 10, 11, 12, 12]);
	});
});
