/**
 * Dump mode's producer: the bytes of an `msdb-redis-dump-v1` artifact, read from a live server
 * with SCAN + DUMP + PTTL (for servers that refuse SYNC, and for clusters, where every master is
 * scanned). Not a point-in-time snapshot: keys written during the scan may or may not be in it,
 * and SCAN may return a key twice while the server rehashes (it is then stored, and counted,
 * twice; RESTORE … REPLACE makes the replay idempotent).
 *
 * Pipelined over raw connections (see redis-server-address.ts): one SCAN page, then DUMP and PTTL
 * of its keys in one write. The artifact is produced lazily, so an upload that is slow to take
 * bytes slows the scan down instead of filling memory.
 */
import {Readable} from 'node:stream';
import type {Redis} from 'ioredis';
import {throwIfCancelled} from '../../cancellation.js';
import {isCluster, masterNodes, type RedisClient} from '../../redis/redis-client.js';
import {parseInfo} from '../../redis/redis-health.js';
import {readDumpTrailer} from './dump-payload.js';
import {DumpStreamWriter} from './dump-stream-writer.js';
import {rdbVersionForServer} from './rdb-format.js';
import {addressOfClient} from './redis-server-address.js';
import {RespConnection} from './resp-connection.js';
import {RespErrorReply, type RespReply} from './resp-reply-reader.js';
import {whenReady} from './redis-server-facts.js';

export type RedisDumpSourceOptions = {
	client: RedisClient;
	serverVersion: string;
	/** Keys asked for per SCAN page (default 1000). */
	scanCount?: number;
	signal?: AbortSignal;
};

/** What the producer found, complete once the stream has ended. */
export type RedisDumpTally = {
	rdbVersion: number | null;
	keysPerDatabase: Record<string, number>;
	keys: number;
	/** Keys SCAN returned that were gone (or expired) before DUMP. */
	vanished: number;
};

const DEFAULT_SCAN_COUNT = 1000;
const CANCELLED = 'The Redis backup was stopped during the dump; nothing was kept.';

/** The artifact as a byte stream, and the tally it fills in as it goes. */
export function createRedisDumpStream(options: RedisDumpSourceOptions): {stream: Readable; tally: RedisDumpTally} {
	const tally: RedisDumpTally = {rdbVersion: null, keysPerDatabase: {}, keys: 0, vanished: 0};
	const stream = Readable.from(produce(options, tally), {objectMode: false});
	return {stream, tally};
}

async function* produce(options: RedisDumpSourceOptions, tally: RedisDumpTally): AsyncGenerator<Buffer> {
	const {client, signal} = options;
	const scanCount = String(options.scanCount ?? DEFAULT_SCAN_COUNT);
	const writer = new DumpStreamWriter();
	await whenReady(client);
	const nodes: Redis[] = masterNodes(client);
	const connections: RespConnection[] = [];
	try {
		for (const node of nodes) {
			connections.push(await RespConnection.open(await addressOfClient(node, {signal}), {signal}));
		}

		// The header must carry the payloads' RDB version, known from the first DUMP: until then,
		// what was read waits here, unencoded (the writer checksums frames in the order it makes them).
		type Item = {db: number; key: Buffer; expireAtMs: number | null; payload: Buffer} | {functions: Buffer};
		let held: Item[] | undefined = [];
		const encode = (item: Item): Buffer[] =>
			'functions' in item ? [writer.functions(item.functions)] : [writer.database(item.db), writer.key(item.key, item.expireAtMs, item.payload)];
		const emit = function* (items: Item[], version: number | null): Generator<Buffer> {
			if (held !== undefined && version === null) {
				held.push(...items);
				return;
			}

			if (held !== undefined) {
				tally.rdbVersion = version;
				yield writer.header({serverVersion: options.serverVersion, rdbVersion: version, createdAt: new Date().toISOString()});
				const earlier = held;
				held = undefined;
				for (const item of earlier) {
					yield* encode(item);
				}
			}

			for (const item of items) {
				yield* encode(item);
			}
		};

		const functions = await dumpFunctions(connections[0]);
		for (const [index, connection] of connections.entries()) {
			const databases = isCluster(client) ? [0] : await databasesWithKeys(connection);
			for (const db of databases) {
				throwIfCancelled(signal, CANCELLED);
				if (!isCluster(client)) {
					await connection.call(['SELECT', String(db)]);
				}

				let cursor = '0';
				do {
					throwIfCancelled(signal, CANCELLED);
					const page = (await connection.call(['SCAN', cursor, 'COUNT', scanCount])) as [Buffer, Buffer[]];
					cursor = page[0].toString();
					const keys = page[1];
					if (keys.length === 0) {
						continue;
					}

					const replies = await connection.pipeline(keys.flatMap(key => [['DUMP', key], ['PTTL', key]]));
					const now = Date.now();
					const items: Item[] = [];
					let version: number | null = null;
					for (const [position, key] of keys.entries()) {
						const payload = replies[position * 2];
						const ttl = replies[position * 2 + 1];
						throwOnError(connection, 'DUMP', payload);
						throwOnError(connection, 'PTTL', ttl);
						if (!Buffer.isBuffer(payload) || ttl === -2) {
							tally.vanished++;
							continue;
						}

						version ??= readDumpTrailer(payload)?.rdbVersion ?? null;
						items.push({db, key, expireAtMs: typeof ttl === 'number' && ttl >= 0 ? now + ttl : null, payload});
					}

					yield* emit(items, version);
					tally.keys = writer.keys;
				} while (cursor !== '0');
			}

			if (index === 0 && functions) {
				yield* emit([{functions}], null);
			}
		}

		yield* emit([], rdbVersionForServer(options.serverVersion));
		tally.keysPerDatabase = writer.keysPerDatabase();
		tally.keys = writer.keys;
		yield writer.end();
	} finally {
		for (const connection of connections) {
			connection.close();
		}
	}
}

/** Databases the server reports keys in (INFO keyspace: `db3:keys=5,…`). */
async function databasesWithKeys(connection: RespConnection): Promise<number[]> {
	const info = parseInfo(String(await connection.call(['INFO', 'keyspace'])));
	return Object.keys(info)
		.map(name => /^db(\d+)$/.exec(name)?.[1])
		.filter((db): db is string => db !== undefined)
		.map(Number)
		.sort((a, b) => a - b);
}

/** FUNCTION DUMP of a server with function libraries (Redis ≥ 7), else undefined. */
async function dumpFunctions(connection: RespConnection | undefined): Promise<Buffer | undefined> {
	if (!connection) {
		return undefined;
	}

	// Older servers and restricted users answer with errors: no functions to keep then.
	const [libraries, payload] = await connection.pipeline([['FUNCTION', 'LIST'], ['FUNCTION', 'DUMP']]);
	return Array.isArray(libraries) && libraries.length > 0 && Buffer.isBuffer(payload) ? payload : undefined;
}

function throwOnError(connection: RespConnection, command: string, reply: RespReply | undefined): void {
	if (reply instanceof RespErrorReply) {
		throw connection.serverError(command, reply.message);
	}
}
