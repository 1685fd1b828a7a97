/**
 * Counts every command a role's connection sends, by outcome, with its latency: what the
 * heartbeat publishes per role and what the prom-client collector will export ("Redis commands
 * by role and outcome with latency").
 *
 * How: like the offline-queue bound, this wraps the client instance's `sendCommand`, which every
 * command goes through (plain commands, pipelines, transactions, the handshake, the replay of
 * the offline queue); on a Cluster that is the Cluster's own `sendCommand`, so a command counts
 * once however many nodes it was redirected to (MOVED, ASK, TRYAGAIN retries are handled below
 * it). The first time a command passes, its `resolve`/`reject` are wrapped; the first of them to
 * run decides the outcome, since ioredis may call `resolve` for a reply that arrives after the
 * command already timed out.
 *
 * The connection's own handshake on each (re)connect is not counted: AUTH, SELECT, CLIENT
 * SETNAME/SETINFO and the INFO ready check of a server, CLUSTER INFO of a Cluster (all sent while
 * the client is in state `connect`). It is not the application's traffic, and CLIENT SETINFO fails
 * on every connect to Redis < 7.2, which would read as errors.
 *
 * Cost on the hot path: one performance.now() pair, a few counter increments, one bucket search,
 * and the two small closures that carry the start time (a Command is created per call anyway).
 * No maps, no per-command records.
 *
 * Outcomes:
 * - `timeout`: the command's deadline passed (ioredis' `commandTimeout`, or the deadline the
 *   offline-queue bound arms): ioredis rejects it with exactly `Command timed out`;
 * - `error`: any other rejection: an error reply (WRONGTYPE, NOSCRIPT, OOM), a dropped
 *   connection, a refusal by the full offline queue;
 * - `ok`: any reply, including nil and the `QUEUED` replies inside MULTI.
 * Latency runs from the first `sendCommand` to the outcome, so time spent waiting in the offline
 * queue counts: it is what the caller waited.
 */
import {Command} from 'ioredis';
import {LatencyHistogram, type LatencySummary} from '../metrics/latency-histogram.js';
import type {RedisClient} from './redis-client.js';
import type {RedisRole} from './redis-config.js';

/** One role's connection: commands since it was created, by outcome, and their latency. */
export type RedisCommandStats = {
	role: RedisRole;
	/** The connection is ready now (connected, handshake done; a Cluster: slots known). */
	connected: boolean;
	commands: {ok: number; error: number; timeout: number};
	latency: LatencySummary;
};

/** The message ioredis rejects a command with when its deadline passes (Command#setTimeout). */
export const COMMAND_TIMED_OUT_MESSAGE = 'Command timed out';

type SendCommand = (command: Command, stream?: unknown, node?: unknown) => unknown;

// Set on a command the first time it is seen, so the offline queue's replay (which calls
// `sendCommand` again with the same command) is not counted twice.
const WATCHED = Symbol('msdb.redisCommandWatched');

type WatchedCommand = Command & {[WATCHED]?: true};

/** A command ioredis sends itself while connecting (see the file comment); checked only in state `connect`. */
function isHandshake(command: Command): boolean {
	return command.name === 'cluster' || Command.checkFlag('HANDSHAKE_COMMANDS', command.name);
}

/** The counters of one connection; create it once per client, before the client is used. */
export class RedisCommandRecorder {
	/** The role the connection serves. */
	readonly role: RedisRole;
	readonly #client: RedisClient;
	readonly #latency = new LatencyHistogram();
	#ok = 0;
	#error = 0;
	#timeout = 0;

	constructor(client: RedisClient, role: RedisRole) {
		this.role = role;
		this.#client = client;
		const send = client.sendCommand.bind(client) as SendCommand;
		const wrapped: SendCommand = (command, stream, node) => {
			if ((command as WatchedCommand)[WATCHED] !== true && !(client.status === 'connect' && isHandshake(command))) {
				this.#watch(command as WatchedCommand);
			}

			return send(command, stream, node);
		};

		(client as unknown as {sendCommand: SendCommand}).sendCommand = wrapped;
	}

	/** A plain-data copy of the counters, with the connection's state now. */
	stats(): RedisCommandStats {
		return {
			role: this.role,
			connected: this.#client.status === 'ready',
			commands: {ok: this.#ok, error: this.#error, timeout: this.#timeout},
			latency: this.#latency.summary(),
		};
	}

	#watch(command: WatchedCommand): void {
		command[WATCHED] = true;
		const started = performance.now();
		const {resolve, reject} = command;
		let open = true;
		command.resolve = (value: unknown) => {
			if (open) {
				open = false;
				this.#ok++;
				this.#latency.record(performance.now() - started);
			}

			resolve(value);
		};

		command.reject = (error: Error) => {
			if (open) {
				open = false;
				if (error?.message === COMMAND_TIMED_OUT_MESSAGE) {
					this.#timeout++;
				} else {
					this.#error++;
				}

				this.#latency.record(performance.now() - started);
			}

			reject(error);
		};
	}
}
