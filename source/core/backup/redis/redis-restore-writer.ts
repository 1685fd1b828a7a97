/**
 * Replays keys into a live Redis (standalone or cluster) as pipelined
 * `RESTORE key <abs-expiry-ms|0> <payload> ABSTTL REPLACE` over raw connections, one per master:
 *
 * - commands are encoded into large slabs and written once 256 KB have accumulated; at most
 *   MAX_IN_FLIGHT commands (and MAX_IN_FLIGHT_BYTES of them) per connection await their reply,
 *   so memory stays flat however many keys there are, and a server that slows down slows the
 *   reader down;
 * - the records awaiting a reply are kept (to name a key that fails, or replay a redirected one)
 *   as the parser made them, views into its chunks; the bounds above also bound what they pin;
 * - standalone: one connection, with a SELECT in the stream whenever the database changes (an
 *   RDB holds each database's keys together);
 * - cluster: each key goes to the master serving its slot; a MOVED/ASK reply (slots migrating
 *   during the restore) is replayed through the cluster client, which follows the redirection.
 *
 * A RESTORE error (OOM, "Bad data format" …) fails the restore at the next `pace()` or `finish()`,
 * naming the key and the server's message.
 */
import type {Cluster} from 'ioredis';
import {ActionableError} from '../../errors.js';
import {redact} from '../../redact.js';
import {isCluster, masterNodes, type RedisClient} from '../../redis/redis-client.js';
import {describeKey} from './describe-key.js';
import {buildDumpPayload} from './dump-payload.js';
import type {RedisFunctionsRecord, RedisKeyRecord} from './redis-key-record.js';
import {keySlot} from '../../redis/cluster-key-slot.js';
import {addressOfClient} from './redis-server-address.js';
import {whenReady} from './redis-server-facts.js';
import {RespConnection} from './resp-connection.js';
import {fragment} from './resp-encoder.js';
import {RespErrorReply, type RespReply} from './resp-reply-reader.js';

/** Replies awaited per connection before the writer waits; deep enough to keep the server busy. */
const MAX_IN_FLIGHT = 4096;
/** Payload bytes awaiting a reply per connection before the writer waits (large values). */
const MAX_IN_FLIGHT_BYTES = 32 * 1024 * 1024;
/** Encoded bytes held per connection before they are written. */
const FLUSH_BYTES = 256 * 1024;

/** One master: its connection, selected database, and the records whose reply is awaited, in order (null: a SELECT). */
type Route = {connection: RespConnection; db: number; awaiting: Array<RedisKeyRecord | null>; head: number; onReply: (reply: RespReply) => void};

const RESTORE_HEAD = fragment('*6\r\n$7\r\nRESTORE\r\n');
const RESTORE_TAIL = fragment('$6\r\nABSTTL\r\n$7\r\nREPLACE\r\n');

/** See the file comment. */
export class RedisRestoreWriter {
	readonly #client: RedisClient;
	readonly #routes: Map<string, Route>;
	/** The standalone connection (undefined on a cluster). */
	readonly #single: Route | undefined;
	readonly #restoredPerDatabase = new Map<number, number>();
	readonly #retries: RedisKeyRecord[] = [];
	#restored = 0;
	#redirected = 0;
	#failure: ActionableError | undefined;

	private constructor(client: RedisClient, routes: Map<string, Route>) {
		this.#client = client;
		this.#routes = routes;
		this.#single = isCluster(client) ? undefined : [...routes.values()][0];
		for (const route of routes.values()) {
			// One handler per connection (not a closure per key): a restore sends millions of commands.
			route.onReply = reply => this.#onReply(route, reply);
		}
	}

	/** Opens a connection to every master of the target. */
	static async open(client: RedisClient, signal?: AbortSignal): Promise<RedisRestoreWriter> {
		await whenReady(client);
		const routes = new Map<string, Route>();
		try {
			for (const node of masterNodes(client)) {
				const address = await addressOfClient(node, {signal});
				const route: Route = {connection: await RespConnection.open(address, {signal}), db: 0, awaiting: [], head: 0, onReply: () => {}};
				routes.set(`${node.options.host ?? '127.0.0.1'}:${node.options.port ?? 6379}`, route);
			}
		} catch (error) {
			for (const route of routes.values()) {
				route.connection.close();
			}

			throw error;
		}

		return new RedisRestoreWriter(client, routes);
	}

	/** Keys the target confirmed, in total and per database. */
	get restored(): number {
		return this.#restored;
	}

	/** Keys replayed through the cluster client after a MOVED/ASK reply or an unknown slot owner. */
	get redirected(): number {
		return this.#redirected;
	}

	restoredPerDatabase(): Record<string, number> {
		return Object.fromEntries([...this.#restoredPerDatabase].sort((a, b) => a[0] - b[0]).map(([db, count]) => [String(db), count]));
	}

	/** FLUSHALL on every master (synchronous: the restore starts on an empty, compacted keyspace). */
	async flushAll(): Promise<void> {
		await Promise.all([...this.#routes.values()].map(async route => route.connection.call(['FLUSHALL'])));
	}

	/** Replays server-side function libraries on every master. */
	async loadFunctions(record: RedisFunctionsRecord): Promise<void> {
		const command = record.kind === 'library-code' ? ['FUNCTION', 'LOAD', 'REPLACE', record.code] : ['FUNCTION', 'RESTORE', record.payload, 'REPLACE'];
		await Promise.all([...this.#routes.values()].map(async route => route.connection.call(command, `FUNCTION ${record.kind === 'library-code' ? 'LOAD' : 'RESTORE'}`)));
	}

	/**
	 * Encodes the RESTORE of one key (sent at the next flush). Returns true when the caller should
	 * `await pace()` before writing more.
	 */
	write(record: RedisKeyRecord): boolean {
		const route = this.#single ?? this.#routeOf(record.key);
		if (!route) {
			// A slot no known master serves (the topology changed): let the cluster client route it.
			this.#retries.push(copyRecord(record));
			return false;
		}

		const {connection, awaiting} = route;
		if (this.#single && route.db !== record.db) {
			awaiting.push(null);
			connection.expectReply(route.onReply);
			connection.encoder.command(['SELECT', String(record.db)]);
			route.db = record.db;
		}

		const {encoder} = connection;
		const size = record.dumpPayload?.length ?? record.value.length;
		awaiting.push(record);
		connection.expectReply(route.onReply, undefined, size);
		encoder.raw(RESTORE_HEAD);
		encoder.bulk(record.key);
		encoder.bulkInteger(record.expireAtMs ?? 0);
		if (record.dumpPayload) {
			encoder.bulk(record.dumpPayload);
		} else {
			encoder.dumpPayload(record.rdbType, record.value, record.rdbVersion);
		}

		encoder.raw(RESTORE_TAIL);
		return encoder.pendingBytes >= FLUSH_BYTES || connection.inFlight >= MAX_IN_FLIGHT || connection.inFlightWeight >= MAX_IN_FLIGHT_BYTES;
	}

	/** Writes what is encoded and waits while a connection has too much in flight or a full socket buffer. */
	async pace(): Promise<void> {
		this.#throwIfFailed();
		for (const {connection} of this.#routes.values()) {
			if (!connection.flush()) {
				await connection.drained();
			}

			if (connection.inFlight >= MAX_IN_FLIGHT || connection.inFlightWeight >= MAX_IN_FLIGHT_BYTES) {
				await connection.waitForInFlight(MAX_IN_FLIGHT / 2, MAX_IN_FLIGHT_BYTES / 2);
			}
		}

		this.#throwIfFailed();
	}

	/** Writes everything, waits for every reply, replays redirected keys; throws the first failure. */
	async finish(): Promise<void> {
		for (const {connection} of this.#routes.values()) {
			connection.flush();
		}

		await Promise.all([...this.#routes.values()].map(async ({connection}) => connection.waitForInFlight(1)));
		this.#throwIfFailed();
		while (this.#retries.length > 0) {
			const record = this.#retries.shift()!;
			this.#redirected++;
			const payload = record.dumpPayload ?? buildDumpPayload(record.rdbType, record.value, record.rdbVersion);
			try {
				await (this.#client as Cluster).callBuffer('RESTORE', record.key, record.expireAtMs === null ? '0' : String(record.expireAtMs), payload, 'ABSTTL', 'REPLACE');
			} catch (error) {
				throw restoreFailed('the cluster', record.key, record.db, new RespErrorReply(error instanceof Error ? error.message : String(error)));
			}

			this.#restored++;
			this.#restoredPerDatabase.set(record.db, (this.#restoredPerDatabase.get(record.db) ?? 0) + 1);
		}
	}

	close(): void {
		for (const {connection} of this.#routes.values()) {
			connection.close();
		}
	}

	#onReply(route: Route, reply: RespReply): void {
		const record = route.awaiting[route.head];
		route.awaiting[route.head] = null;
		route.head++;
		if (route.head > 4096 && route.head * 2 > route.awaiting.length) {
			route.awaiting = route.awaiting.slice(route.head);
			route.head = 0;
		}

		if (record === null || record === undefined) {
			if (reply instanceof RespErrorReply) {
				this.#fail(new ActionableError('E_REDIS_RESTORE_FAILED', redact(`Redis at ${route.connection.label} refused SELECT: ${reply.message}`), {
					nextStep: 'The target must have at least as many databases as the backup uses (the `databases` setting).',
				}));
			}

			return;
		}

		if (reply === 'OK') {
			this.#restored++;
			this.#restoredPerDatabase.set(record.db, (this.#restoredPerDatabase.get(record.db) ?? 0) + 1);
		} else if (reply instanceof RespErrorReply && !this.#single && /^(MOVED|ASK) /.test(reply.message)) {
			// Replayed after the pipeline drains; copied, so the parser's chunk can go.
			this.#retries.push(copyRecord(record));
		} else {
			this.#fail(restoreFailed(route.connection.label, record.key, record.db, reply));
		}
	}

	#routeOf(key: Buffer): Route | undefined {
		const owner = (this.#client as Cluster).slots[keySlot(key)]?.[0];
		return owner === undefined ? undefined : this.#routes.get(owner);
	}

	#fail(error: ActionableError): void {
		this.#failure ??= error;
	}

	#throwIfFailed(): void {
		if (this.#failure) {
			throw this.#failure;
		}
	}
}

function copyRecord(record: RedisKeyRecord): RedisKeyRecord {
	return {
		...record,
		key: Buffer.from(record.key),
		value: Buffer.from(record.value),
		...(record.dumpPayload ? {dumpPayload: Buffer.from(record.dumpPayload)} : {}),
	};
}

function restoreFailed(server: string, key: Buffer, db: number, reply: RespReply): ActionableError {
	const message = reply instanceof RespErrorReply ? reply.message : `an unexpected reply ${JSON.stringify(String(reply))}`;
	const hint = /Bad data format|payload version/i.test(message)
		? 'The target cannot load this value: it is older than the server the backup came from, or lacks a module. Restore into a server of the same or a newer version.'
		: /OOM/.test(message)
			? 'The target ran out of memory (maxmemory): raise it, or restore with --redis-flush into an empty target.'
			: 'Check the target server’s log and the ACL permissions of the user (RESTORE, SELECT), then try again.';
	return new ActionableError('E_REDIS_RESTORE_FAILED', redact(`Redis at ${server} refused to RESTORE ${describeKey(key)} (database ${db}): ${message}`), {
		nextStep: hint,
		details: {server, db, reply: redact(message)},
	});
}
