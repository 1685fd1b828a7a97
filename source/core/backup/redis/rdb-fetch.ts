/**
 * Fetches a point-in-time RDB of a standalone (or Sentinel-managed) Redis over the replication
 * protocol, the way `redis-cli --rdb` does, but as a Node stream: no host access, no temp file.
 *
 * The handshake: AUTH if needed; `REPLCONF capa eof` (so the server may stream a diskless RDB);
 * `REPLCONF rdb-only 1` (Redis ≥ 7.0: the server neither feeds us its replication stream nor keeps
 * us as a replica once the RDB is sent; older servers answer with an error, which is fine);
 * `PSYNC ? -1`, whose `+FULLRESYNC <replid> <offset>` names the exact point the RDB captures
 * (`SYNC` when PSYNC is refused). While the server forks, it sends bare `\n` keepalives. Then
 * the payload, in one of two forms:
 *
 * - disk-based: `$<length>\r\n` and exactly that many bytes;
 * - diskless (`repl-diskless-sync yes`, the default since 7.0): `$EOF:<40-byte mark>\r\n`, the
 *   RDB, then the same 40 bytes. The last 40 bytes are held back until it is clear they are not
 *   the mark.
 *
 * The payload is handed out as a Readable with back-pressure: when the consumer (an upload) is
 * slow, the socket is paused and TCP slows the server down. The socket is closed as soon as the
 * payload ends (or the stream is destroyed), so we never linger as a replica.
 */
import type net from 'node:net';
import {Readable} from 'node:stream';
import {ActionableError} from '../../errors.js';
import {cancelledError} from '../../cancellation.js';
import {redact} from '../../redact.js';
import type {SentinelEndpoint, StandaloneEndpoint} from '../../redis/redis-config.js';
import {addressOfEndpoint, describeAddress, type RedisServerAddress} from './redis-server-address.js';
import {RespConnection} from './resp-connection.js';
import {RespErrorReply} from './resp-reply-reader.js';

export type RdbFetchOptions = {
	/** The server: an endpoint from the configuration, or a resolved address. */
	source: StandaloneEndpoint | SentinelEndpoint | RedisServerAddress;
	signal?: AbortSignal;
	/** Fail when the server sends nothing for this long (default 60 s); time paused by back-pressure does not count. */
	idleTimeoutMs?: number;
	/** Deadline for the TCP/TLS connection (default 10 s). */
	connectTimeoutMs?: number;
};

export type RdbFetch = {
	/** The RDB bytes, and nothing else. Destroying it closes the connection. */
	stream: Readable;
	/** Payload size for disk-based transfers; null for diskless ones (unknown until the end). */
	totalBytes: number | null;
	transfer: 'disk' | 'diskless';
	/** From `+FULLRESYNC` (null when the server only took SYNC: read the RDB's `repl-id` AUX field then). */
	replicationId: string | null;
	replicationOffset: number | null;
	/** `host:port` of the server the RDB came from. */
	server: string;
};

const EOF_MARK_BYTES = 40;
const COALESCE_BYTES = 64 * 1024;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
// A payload header longer than this is not a payload header.
const MAX_PREAMBLE_LINE = 1024;

/**
 * Connects, handshakes and returns once the payload starts. Rejects with `E_REDIS_SYNC_REFUSED`
 * when the server answers SYNC and PSYNC with errors (managed services rename or block them), so
 * callers can fall back to dump mode.
 */
export async function fetchRdb(options: RdbFetchOptions): Promise<RdbFetch> {
	const address = 'kind' in options.source ? await addressOfEndpoint(options.source, {signal: options.signal, timeoutMs: options.connectTimeoutMs}) : options.source;
	const server = describeAddress(address);
	const connection = await RespConnection.open(address, {signal: options.signal, timeoutMs: options.connectTimeoutMs});
	let socket: net.Socket | undefined;
	try {
		try {
			await connection.call(['REPLCONF', 'capa', 'eof']);
		} catch (error) {
			throw refused(server, 'REPLCONF', error);
		}

		// Only Redis ≥ 7.0 knows rdb-only; older servers send the RDB all the same.
		await connection.call(['REPLCONF', 'rdb-only', '1']).catch(() => undefined);
		const detached = connection.detach();
		socket = detached.socket;
		const preamble = await readPreamble(socket, detached.leftover, server, options);
		const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
		const stream = new ReplicationPayloadStream(socket, preamble, server, idleTimeoutMs, options.signal);
		return {
			stream,
			totalBytes: preamble.payload.kind === 'length' ? preamble.payload.length : null,
			transfer: preamble.payload.kind === 'length' ? 'disk' : 'diskless',
			replicationId: preamble.replicationId,
			replicationOffset: preamble.replicationOffset,
			server,
		};
	} catch (error) {
		connection.close();
		socket?.destroy();
		throw error;
	}
}

type PayloadForm = {kind: 'length'; length: number} | {kind: 'eof-mark'; mark: Buffer};

type Preamble = {
	payload: PayloadForm;
	replicationId: string | null;
	replicationOffset: number | null;
	/** Payload bytes that arrived with the header. */
	leftover: Buffer;
};

/** Sends PSYNC (then SYNC if refused) and reads up to the payload header. */
async function readPreamble(socket: net.Socket, initial: Buffer, server: string, options: RdbFetchOptions): Promise<Preamble> {
	return new Promise<Preamble>((resolve, reject) => {
		let buffered = initial;
		let sent: 'PSYNC' | 'SYNC' = 'PSYNC';
		let replicationId: string | null = null;
		let replicationOffset: number | null = null;
		let firstRefusal: string | undefined;
		let settled = false;
		const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
		const finish = (error: Error | undefined, preamble?: Preamble) => {
			if (settled) {
				return;
			}

			settled = true;
			socket.setTimeout(0);
			socket.removeListener('data', onData);
			socket.removeListener('error', onError);
			socket.removeListener('close', onClose);
			socket.removeListener('timeout', onTimeout);
			options.signal?.removeEventListener('abort', onAbort);
			socket.pause();
			if (error) {
				reject(error);
			} else {
				resolve(preamble!);
			}
		};

		const onData = (chunk: Buffer) => {
			buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
			parse();
		};

		const parse = () => {
			for (;;) {
				// Keepalives while the server forks and writes the RDB.
				let start = 0;
				while (start < buffered.length && buffered[start] === 0x0a) {
					start++;
				}

				buffered = buffered.subarray(start);
				const end = buffered.indexOf('\r\n');
				if (end === -1) {
					if (buffered.length > MAX_PREAMBLE_LINE) {
						finish(protocolError(server, `an unexpected reply to ${sent}: ${JSON.stringify(buffered.toString('latin1', 0, 80))}`));
					}

					return;
				}

				const line = buffered.toString('latin1', 0, end);
				buffered = buffered.subarray(end + 2);
				if (line.startsWith('+FULLRESYNC')) {
					const [, id, offset] = line.split(' ');
					replicationId = id ?? null;
					replicationOffset = offset === undefined || !/^\d+$/.test(offset) ? null : Number(offset);
					continue;
				}

				if (line.startsWith('-')) {
					if (sent === 'PSYNC') {
						sent = 'SYNC';
						firstRefusal = line.slice(1);
						socket.write('SYNC\r\n');
						continue;
					}

					finish(refused(server, 'SYNC', new RespErrorReply(line.slice(1)), firstRefusal));
					return;
				}

				if (line.startsWith('$EOF:')) {
					const mark = Buffer.from(line.slice(5), 'latin1');
					if (mark.length !== EOF_MARK_BYTES) {
						finish(protocolError(server, `an EOF mark of ${mark.length} bytes instead of ${EOF_MARK_BYTES}`));
						return;
					}

					finish(undefined, {payload: {kind: 'eof-mark', mark}, replicationId, replicationOffset, leftover: buffered});
					return;
				}

				if (/^\$\d+$/.test(line)) {
					finish(undefined, {payload: {kind: 'length', length: Number(line.slice(1))}, replicationId, replicationOffset, leftover: buffered});
					return;
				}

				finish(protocolError(server, `an unexpected reply to ${sent}: ${JSON.stringify(line.slice(0, 80))}`));
				return;
			}
		};

		const onError = (error: Error) => finish(lostConnection(server, error.message, error));
		const onClose = () =>
			finish(
				sent === 'SYNC' && firstRefusal !== undefined
					? refused(server, 'SYNC', new Error('the server closed the connection'), firstRefusal)
					: lostConnection(server, 'the server closed the connection before sending the RDB'),
			);
		const onTimeout = () => finish(lostConnection(server, `nothing received for ${idleTimeoutMs} ms while waiting for the RDB`));
		const onAbort = () => finish(cancelledError('The Redis backup was stopped before the RDB transfer began.'));
		if (options.signal?.aborted) {
			onAbort();
			return;
		}

		options.signal?.addEventListener('abort', onAbort, {once: true});
		socket.on('data', onData);
		socket.on('error', onError);
		socket.on('close', onClose);
		socket.on('timeout', onTimeout);
		socket.setTimeout(idleTimeoutMs);
		socket.write('PSYNC ? -1\r\n');
		socket.resume();
		parse();
	});
}

/** The payload as a Readable; see the file comment. */
class ReplicationPayloadStream extends Readable {
	readonly #socket: net.Socket;
	readonly #payload: PayloadForm;
	readonly #server: string;
	readonly #signal: AbortSignal | undefined;
	/** Bytes of a length-form payload still to come. */
	#remaining: number;
	/** The last bytes of an EOF-form payload, held back until they are known not to be the mark. */
	#held: Buffer = Buffer.alloc(0);
	#received = 0;
	#coalesced: Buffer[] = [];
	#coalescedBytes = 0;
	#finished = false;
	#paused = false;

	constructor(socket: net.Socket, preamble: Preamble, server: string, idleTimeoutMs: number, signal: AbortSignal | undefined) {
		super({highWaterMark: 1024 * 1024});
		this.#socket = socket;
		this.#payload = preamble.payload;
		this.#server = server;
		this.#signal = signal;
		this.#remaining = preamble.payload.kind === 'length' ? preamble.payload.length : 0;
		socket.on('data', this.#onData);
		socket.on('error', this.#onError);
		socket.on('close', this.#onClose);
		socket.on('timeout', this.#onTimeout);
		socket.setTimeout(idleTimeoutMs);
		signal?.addEventListener('abort', this.#onAbort, {once: true});
		if (preamble.payload.kind === 'length' && preamble.payload.length === 0) {
			this.#complete();
			return;
		}

		if (preamble.leftover.length > 0) {
			this.#onData(preamble.leftover);
		}

		// The handshake left the socket paused; flow until the consumer pushes back.
		if (!this.#finished && !this.#paused) {
			socket.resume();
		}
	}

	override _read(): void {
		if (this.#paused && !this.#finished) {
			this.#paused = false;
			this.#socket.resume();
		}
	}

	override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
		this.#detach();
		this.#socket.destroy();
		callback(error);
	}

	readonly #onData = (chunk: Buffer): void => {
		if (this.#finished) {
			return;
		}

		if (this.#payload.kind === 'length') {
			const take = Math.min(chunk.length, this.#remaining);
			this.#remaining -= take;
			this.#emit(take === chunk.length ? chunk : chunk.subarray(0, take));
			if (this.#remaining === 0) {
				this.#complete();
			}

			return;
		}

		const {mark} = this.#payload;
		if (chunk.length >= EOF_MARK_BYTES && this.#held.length > 0) {
			// The mark, if it is here, lies wholly in this chunk: what was held back is payload.
			this.#emit(this.#held);
			this.#held = Buffer.alloc(0);
		}

		const data = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
		if (data.length < EOF_MARK_BYTES) {
			this.#held = data;
			return;
		}

		const cut = data.length - EOF_MARK_BYTES;
		const ended = data.subarray(cut).equals(mark);
		if (cut > 0) {
			this.#emit(data.subarray(0, cut));
		}

		if (ended) {
			this.#complete();
		} else {
			// Copied: a view would pin the whole chunk.
			this.#held = Buffer.from(data.subarray(cut));
		}
	};

	/**
	 * Hands bytes on in pieces of at least COALESCE_BYTES: a diskless transfer arrives in ~12 KB
	 * reads, and every piece costs each stream stage downstream (parser, hash, file write) a
	 * call; on a busy machine that CPU is taken from the server producing the RDB.
	 */
	#emit(bytes: Buffer): void {
		this.#received += bytes.length;
		this.#coalesced.push(bytes);
		this.#coalescedBytes += bytes.length;
		if (this.#coalescedBytes >= COALESCE_BYTES) {
			this.#flushCoalesced();
		}
	}

	#flushCoalesced(): void {
		if (this.#coalescedBytes === 0) {
			return;
		}

		const bytes = this.#coalesced.length === 1 ? this.#coalesced[0]! : Buffer.concat(this.#coalesced, this.#coalescedBytes);
		this.#coalesced = [];
		this.#coalescedBytes = 0;
		if (!this.push(bytes) && !this.#paused) {
			this.#paused = true;
			this.#socket.pause();
		}
	}

	#complete(): void {
		this.#finished = true;
		this.#detach();
		// We have what we came for: closing now keeps the server from treating us as a replica.
		this.#socket.destroy();
		this.#flushCoalesced();
		this.push(null);
	}

	readonly #onError = (error: Error): void => {
		this.destroy(lostConnection(this.#server, `${error.message} after ${this.#received} bytes of the RDB`, error));
	};

	readonly #onClose = (): void => {
		if (!this.#finished) {
			const expected = this.#payload.kind === 'length' ? ` of ${this.#received + this.#remaining}` : '';
			this.destroy(lostConnection(this.#server, `the server closed the connection after ${this.#received}${expected} bytes of the RDB`));
		}
	};

	readonly #onTimeout = (): void => {
		// A consumer applying back-pressure is not an idle server.
		if (!this.#paused && !this.#finished) {
			this.destroy(lostConnection(this.#server, `nothing received for a while after ${this.#received} bytes of the RDB`));
		}
	};

	readonly #onAbort = (): void => {
		this.destroy(cancelledError('The Redis backup was stopped during the RDB transfer; nothing was kept.'));
	};

	#detach(): void {
		this.#socket.setTimeout(0);
		this.#socket.removeListener('data', this.#onData);
		this.#socket.removeListener('timeout', this.#onTimeout);
		this.#socket.removeListener('close', this.#onClose);
		this.#socket.removeListener('error', this.#onError);
		// A late socket error after we are done must not crash the process.
		this.#socket.on('error', () => {});
		this.#signal?.removeEventListener('abort', this.#onAbort);
	}
}

function refused(server: string, command: string, error: unknown, firstRefusal?: string): ActionableError {
	const message = error instanceof RespErrorReply ? error.message : error instanceof Error ? error.message : String(error);
	const previous = firstRefusal === undefined ? '' : ` (PSYNC: ${firstRefusal})`;
	return new ActionableError('E_REDIS_SYNC_REFUSED', redact(`Redis at ${server} refused to send an RDB over replication: ${command}: ${message}${previous}.`), {
		nextStep: 'Managed services (ElastiCache, MemoryDB, Azure Cache …) block SYNC: back up in dump mode (--redis-mode dump), which needs only SCAN, DUMP and PTTL.',
		details: {server, command, reply: redact(message)},
		cause: error,
	});
}

function protocolError(server: string, what: string): ActionableError {
	return new ActionableError('E_SERVICE_UNAVAILABLE', redact(`Redis at ${server} answered the replication handshake with ${what}.`), {
		nextStep: 'Is this a Redis server (not a proxy that hides replication)? Otherwise back up in dump mode (--redis-mode dump).',
		details: {server},
	});
}

function lostConnection(server: string, reason: string, cause?: unknown): ActionableError {
	return new ActionableError('E_SERVICE_UNAVAILABLE', redact(`The RDB transfer from Redis at ${server} failed: ${reason}.`), {
		nextStep: 'Check the server is up and its replication output buffer limit (client-output-buffer-limit replica), then run the backup again.',
		details: {server},
		cause,
	});
}
