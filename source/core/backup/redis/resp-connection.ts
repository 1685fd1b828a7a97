/**
 * A raw RESP2 connection to one Redis server, for what ioredis does badly here: thousands of
 * pipelined RESTOREs per second with a bounded number in flight (restore), and a handshake
 * after which the socket is handed over to read a replication payload (RDB fetch).
 *
 * Replies are matched to commands in order: each command registers a handler when encoded;
 * `flush()` writes the encoded bytes. A lost connection fails every waiting handler and call.
 */
import type net from 'node:net';
import {ActionableError} from '../../errors.js';
import {redact} from '../../redact.js';
import {connectSocket, describeAddress, type ConnectOptions, type RedisServerAddress} from './redis-server-address.js';
import {RespEncoder} from './resp-encoder.js';
import {RespErrorReply, RespReplyReader, type RespReply} from './resp-reply-reader.js';

type ReplyHandler = (reply: RespReply) => void;

export type RespConnectionOptions = ConnectOptions & {
	/** SELECT this database after logging in (standalone servers). */
	db?: number;
};

/** See the file comment. */
export class RespConnection {
	/** Encode commands here (after `expectReply` for each), then `flush()`. */
	readonly encoder = new RespEncoder();
	readonly #socket: net.Socket;
	readonly #reader: RespReplyReader;
	readonly #label: string;
	#handlers: ReplyHandler[] = [];
	/** Per outstanding reply, the weight its command was registered with (bytes, for restore). */
	#weights: number[] = [];
	#head = 0;
	#inFlightWeight = 0;
	#failure: Error | undefined;
	#waiters: Array<{below: number; belowWeight: number; resolve: () => void; reject: (error: Error) => void}> = [];
	#detached = false;

	private constructor(socket: net.Socket, label: string) {
		this.#socket = socket;
		this.#label = label;
		this.#reader = new RespReplyReader(reply => this.#dispatch(reply));
		socket.on('data', this.#onData);
		socket.on('error', this.#onError);
		socket.on('close', this.#onClose);
	}

	/** Connects, logs in (AUTH) and selects `db`; rejects with a message naming the server. */
	static async open(address: RedisServerAddress, options: RespConnectionOptions = {}): Promise<RespConnection> {
		const socket = await connectSocket(address, options);
		const connection = new RespConnection(socket, describeAddress(address));
		try {
			if (address.password !== undefined) {
				const auth = address.username === undefined ? ['AUTH', address.password] : ['AUTH', address.username, address.password];
				await connection.call(auth, 'AUTH');
			}

			if (options.db !== undefined && options.db !== 0) {
				await connection.call(['SELECT', String(options.db)]);
			}
		} catch (error) {
			connection.close();
			throw error;
		}

		return connection;
	}

	/** `host:port`. */
	get label(): string {
		return this.#label;
	}

	/** Commands sent (or encoded) whose reply has not arrived. */
	get inFlight(): number {
		return this.#handlers.length - this.#head;
	}

	/** The summed weights of those commands. */
	get inFlightWeight(): number {
		return this.#inFlightWeight;
	}

	/**
	 * Sends one command and resolves with its reply; an error reply rejects. `shownAs` replaces
	 * the arguments in messages (AUTH must never show its password).
	 */
	async call(args: ReadonlyArray<string | Buffer>, shownAs?: string): Promise<RespReply> {
		return new Promise<RespReply>((resolve, reject) => {
			this.expectReply(reply => {
				if (reply instanceof RespErrorReply) {
					reject(this.serverError(shownAs ?? String(args[0]), reply.message));
				} else {
					resolve(reply);
				}
			}, reject);
			this.encoder.command(args);
			this.flush();
		});
	}

	/**
	 * Sends several commands in one write and resolves with their replies in order; error
	 * replies come back as {@link RespErrorReply} values, not rejections.
	 */
	async pipeline(commands: ReadonlyArray<ReadonlyArray<string | Buffer>>): Promise<RespReply[]> {
		if (commands.length === 0) {
			return [];
		}

		return new Promise<RespReply[]>((resolve, reject) => {
			const replies: RespReply[] = [];
			for (const args of commands) {
				this.expectReply(reply => {
					replies.push(reply);
					if (replies.length === commands.length) {
						resolve(replies);
					}
				}, reject);
				this.encoder.command(args);
			}

			this.flush();
		});
	}

	/**
	 * Registers the handler of the next encoded command's reply; one handler may serve many
	 * commands. `onLost` (optional; give it only with a handler of its own) is called instead if
	 * the connection fails first; otherwise the failure surfaces in `waitForInFlight`. `weight`
	 * (e.g. the command's bytes) counts towards `inFlightWeight` until the reply.
	 */
	expectReply(handler: ReplyHandler, onLost?: (error: Error) => void, weight = 0): void {
		if (this.#failure) {
			throw this.#failure;
		}

		this.#handlers.push(onLost ? Object.assign(handler, {onLost}) : handler);
		this.#weights.push(weight);
		this.#inFlightWeight += weight;
	}

	/** Writes what the encoder holds; returns false when the socket's buffer is full (see `drained`). */
	flush(): boolean {
		if (this.#failure) {
			throw this.#failure;
		}

		let writable = true;
		for (const chunk of this.encoder.take()) {
			writable = this.#socket.write(chunk);
		}

		return writable;
	}

	/** Resolves when the socket can take more bytes. */
	async drained(): Promise<void> {
		if (this.#failure) {
			throw this.#failure;
		}

		if (!this.#socket.writableNeedDrain) {
			return;
		}

		await new Promise<void>((resolve, reject) => {
			const onDrain = () => {
				this.#socket.removeListener('close', onClose);
				resolve();
			};

			const onClose = () => {
				this.#socket.removeListener('drain', onDrain);
				reject(this.#failure ?? this.#lost('the connection closed'));
			};

			this.#socket.once('drain', onDrain);
			this.#socket.once('close', onClose);
		});
	}

	/**
	 * Resolves once fewer than `below` replies are outstanding and their weight is under
	 * `belowWeight`; rejects if the connection fails.
	 */
	async waitForInFlight(below: number, belowWeight = Number.POSITIVE_INFINITY): Promise<void> {
		if (this.#failure) {
			throw this.#failure;
		}

		if (this.inFlight < below && this.#inFlightWeight < belowWeight) {
			return;
		}

		await new Promise<void>((resolve, reject) => {
			this.#waiters.push({below, belowWeight, resolve, reject});
		});
	}

	/**
	 * Stops reading replies and hands over the socket with the bytes received past the last
	 * reply: the replication payload follows the PSYNC reply on the same socket.
	 */
	detach(): {socket: net.Socket; leftover: Buffer} {
		this.#detached = true;
		// Paused first: a flowing socket without a 'data' listener would drop what arrives next.
		this.#socket.pause();
		this.#socket.removeListener('data', this.#onData);
		this.#socket.removeListener('error', this.#onError);
		this.#socket.removeListener('close', this.#onClose);
		return {socket: this.#socket, leftover: this.#reader.takeLeftover()};
	}

	close(): void {
		if (!this.#detached) {
			this.#socket.destroy();
		}
	}

	/** An error for a server's error reply to `command`, password-safe. */
	serverError(command: string, message: string): ActionableError {
		return new ActionableError('E_REDIS_UNAVAILABLE', redact(`Redis at ${this.#label} refused ${command}: ${message}`), {
			nextStep: /NOAUTH|WRONGPASS|invalid password|NOPERM/i.test(message)
				? 'Check the user name and password in the Redis URL, and the ACL permissions of that user.'
				: 'Check the state of the server and the permissions of the user, then try again.',
			details: {server: this.#label, command, reply: redact(message)},
		});
	}

	#dispatch(reply: RespReply): void {
		const handler = this.#handlers[this.#head];
		if (!handler) {
			this.#fail(this.#lost('it sent a reply nobody asked for'));
			return;
		}

		this.#handlers[this.#head] = undefined as unknown as ReplyHandler;
		this.#inFlightWeight -= this.#weights[this.#head]!;
		this.#head++;
		// Compact now and then, so a long pipeline does not keep a million empty slots.
		if (this.#head > 4096 && this.#head * 2 > this.#handlers.length) {
			this.#handlers = this.#handlers.slice(this.#head);
			this.#weights = this.#weights.slice(this.#head);
			this.#head = 0;
		}

		handler(reply);
		if (this.#waiters.length > 0) {
			const inFlight = this.inFlight;
			for (let index = this.#waiters.length - 1; index >= 0; index--) {
				const waiter = this.#waiters[index]!;
				if (inFlight < waiter.below && this.#inFlightWeight < waiter.belowWeight) {
					this.#waiters.splice(index, 1);
					waiter.resolve();
				}
			}
		}
	}

	readonly #onData = (chunk: Buffer): void => {
		try {
			this.#reader.push(chunk);
		} catch (error) {
			this.#fail(this.#lost(error instanceof Error ? error.message : String(error)));
		}
	};

	readonly #onError = (error: Error): void => {
		this.#fail(this.#lost(error.message, error));
	};

	readonly #onClose = (): void => {
		this.#fail(this.#lost('the connection closed'));
	};

	#lost(reason: string, cause?: unknown): ActionableError {
		return new ActionableError('E_SERVICE_UNAVAILABLE', redact(`Lost the connection to Redis at ${this.#label}: ${reason}.`), {
			nextStep: 'Check the server is up and reachable (it may have restarted or run out of memory), then run the command again.',
			cause,
		});
	}

	#fail(error: Error): void {
		if (this.#failure) {
			return;
		}

		this.#failure = error;
		this.#socket.destroy();
		const handlers = [...new Set(this.#handlers.slice(this.#head))];
		this.#handlers = [];
		this.#weights = [];
		this.#inFlightWeight = 0;
		this.#head = 0;
		for (const handler of handlers) {
			(handler as ReplyHandler & {onLost?: (error: Error) => void}).onLost?.(error);
		}

		for (const waiter of this.#waiters) {
			waiter.reject(error);
		}

		this.#waiters = [];
	}
}
