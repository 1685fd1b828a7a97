/**
 * A size cap for ioredis' offline queue, and one deadline per command that also covers the wait
 * in that queue.
 *
 * Why: ioredis queues every command issued while it is not connected, without limit (never
 * merged upstream: redis/ioredis #76, #241, #702), so a dead Redis turns into unbounded memory
 * and callers that wait for as long as the outage lasts. Turning the queue off instead
 * (`enableOfflineQueue: false`) fails every command issued during a 50 ms reconnect, and a
 * Cluster cannot even start without it.
 *
 * How: every command goes through the instance's `sendCommand` (plain commands, pipelines,
 * transactions, and the replay of the queue on reconnect), so the wrapper installed here sees
 * them all:
 * - while the client is not connected (`wait`, `connecting`, `reconnecting`, `close`; a Cluster:
 *   anything but `ready`), it counts
 *   the commands it let into the queue and still unanswered; once `limit` are waiting, further
 *   commands are rejected at once with `E_REDIS_UNAVAILABLE`. In `connect` (socket open,
 *   handshake running) everything passes: AUTH, SELECT, CLIENT SETNAME and the ready check are
 *   sent in that state and must never be refused, and it lasts one round trip.
 * - it arms the command's timer (`commandTimeoutMs`) before ioredis queues the command. ioredis
 *   arms it only in `Redis#sendCommand`, so a Cluster's own queue (used while the cluster is not
 *   ready) would otherwise wait without a deadline. Blocking commands (BLPOP 5, XREAD BLOCK 5000)
 *   get their block time on top; a block of 0 waits as long as the caller asked.
 * - a command that timed out while queued is dropped when the queue is replayed after a
 *   reconnect: the caller was told it failed, so running it minutes later (a stale cache write
 *   landing after an invalidation) would be wrong.
 * - pipelines and transactions are admitted or refused whole, and never dropped on replay:
 *   ioredis writes a pipeline only once every command of it has been handed over.
 *
 * This relies on ioredis' `sendCommand`, `status` and Command's `setTimeout`/`resolve`/`reject`,
 * all public in ioredis 5's typings; nothing reads the private queue itself.
 */
import {Command} from 'ioredis';
import {ActionableError} from '../errors.js';
import {isCluster, type RedisClient} from './redis-client.js';

export type OfflineQueueBoundOptions = {
	/** Commands allowed to wait while disconnected; 0 refuses them all at once. */
	limit: number;
	/** Deadline per command, queue time included; 0 or less leaves ioredis' own behaviour. */
	commandTimeoutMs: number;
	/** Names the connection in the error (`cache`, `sessions subscriber` …); no credentials. */
	label: string;
};

/** What the bound keeps per client, for tests and health. */
export type OfflineQueueState = {
	/** Commands waiting for a connection right now. */
	readonly waiting: number;
	/** Commands refused because the queue was full, since the client was created. */
	readonly refused: number;
};

type SendCommand = (command: Command, stream?: unknown, node?: unknown) => unknown;

// Redis states in which a command is parked in the offline queue rather than written. (In
// `connect` the handshake runs; see the file comment.)
const REDIS_QUEUEING_STATES = new Set(['wait', 'connecting', 'reconnecting', 'close']);
// setTimeout's ceiling; used for blocking commands that block forever (timeout 0).
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Installs the bound on a client (standalone, Sentinel or Cluster). Call once, before use. */
export function boundOfflineQueue(client: RedisClient, options: OfflineQueueBoundOptions): OfflineQueueState {
	const original = client.sendCommand.bind(client) as SendCommand;
	const waiting = new Set<Command>();
	const settled = new WeakSet<Command>();
	const pipelineAdmitted = new WeakMap<object, boolean>();
	let refused = 0;

	const track = (command: Command): void => {
		if (waiting.has(command)) {
			return;
		}

		waiting.add(command);
		const {resolve, reject} = command;
		const settle = () => {
			waiting.delete(command);
			settled.add(command);
		};

		command.resolve = (value: unknown) => {
			settle();
			resolve(value);
		};
		command.reject = (error: Error) => {
			settle();
			reject(error);
		};
	};

	// A Cluster queues everything until it is `ready`, except its own CLUSTER commands (slot
	// discovery, ready check), which must never be refused.
	const queues = isCluster(client)
		? (command: Command) => client.status !== 'ready' && client.status !== 'end' && command.name.toLowerCase() !== 'cluster'
		: () => REDIS_QUEUEING_STATES.has(client.status);

	const wrapped: SendCommand = (command, stream, node) => {
		armDeadline(command, options.commandTimeoutMs);
		if (!queues(command)) {
			if (settled.has(command) && stream === undefined) {
				// Answered (timed out) while queued: the caller has its error; do not run it late.
				return command.promise;
			}

			waiting.delete(command);
			return original(command, stream, node);
		}

		let admitted = waiting.has(command) || waiting.size < options.limit;
		if (stream !== undefined && stream !== null && typeof stream === 'object') {
			// The pipeline's first command decides for all of it.
			const decided = pipelineAdmitted.get(stream);
			admitted = decided ?? admitted;
			pipelineAdmitted.set(stream, admitted);
		}

		if (!admitted) {
			refused++;
			command.reject(queueFullError(options, client.status));
			return command.promise;
		}

		track(command);
		return original(command, stream, node);
	};

	(client as unknown as {sendCommand: SendCommand}).sendCommand = wrapped;
	return {
		get waiting() {
			return waiting.size;
		},
		get refused() {
			return refused;
		},
	};
}

function armDeadline(command: Command, commandTimeoutMs: number): void {
	if (commandTimeoutMs <= 0) {
		return;
	}

	// Command#setTimeout arms only the first time, so ioredis' later call keeps this deadline.
	if (Command.checkFlag('BLOCKING_COMMANDS', command.name.toLowerCase())) {
		const blockMs = command.extractBlockingTimeout();
		if (typeof blockMs === 'number') {
			command.setTimeout(blockMs === 0 ? MAX_TIMER_MS : Math.min(MAX_TIMER_MS, blockMs + commandTimeoutMs));
			return;
		}
	}

	command.setTimeout(commandTimeoutMs);
}

function queueFullError(options: OfflineQueueBoundOptions, status: string): ActionableError {
	return new ActionableError(
		'E_REDIS_UNAVAILABLE',
		`Redis (${options.label}) is not connected (${status}) and ${options.limit} command(s) are already waiting for it; this one was refused at once instead of queued.`,
		{
			nextStep: 'Check that Redis is up and reachable (msdb health). Raise maxOfflineQueue only if bursts during short reconnects are expected.',
			details: {connection: options.label, status, offlineQueueLimit: options.limit},
		},
	);
}
