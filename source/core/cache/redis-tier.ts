import type {Redis} from 'ioredis';
import {isCluster, masterNodes, type RedisClient} from '../redis/redis-client.js';
import type {L2FailureReason} from './cache-events.js';
import {CircuitBreaker, type BreakerState} from './circuit-breaker.js';
import {clusterKeySlot} from '../redis/cluster-key-slot.js';
import {LatencyHistogram} from '../metrics/latency-histogram.js';
import {MgetBatcher} from './mget-batcher.js';

/**
 * L2: every Redis call of the cache goes through {@link RedisTier.call}, which
 *
 * 1. refuses to send on a client whose connection was lost (ioredis would queue the command in
 *    its offline queue; the caller should not wait for a reconnect);
 * 2. asks the circuit breaker (open → no call at all, answer "unavailable" at once);
 * 3. races the call against a deadline (default 50 ms);
 * 4. reports the outcome to the breaker, records the latency, and never throws: a failure is
 *    returned as {@link L2_UNAVAILABLE} and reported through `onFailure`.
 *
 * A call abandoned at its deadline may still run on the server later (ioredis keeps it, and
 * resends unanswered commands after a reconnect); every write the cache makes is either
 * idempotent or a compare-and-set, so a late write cannot undo a newer one (cache-scripts.ts).
 */

export const L2_UNAVAILABLE: unique symbol = Symbol('l2-unavailable');
export type L2Unavailable = typeof L2_UNAVAILABLE;

export type RedisTierOptions = {
	client: RedisClient;
	deadlineMs: number;
	maxBatchKeys: number;
	breaker: {failureThreshold: number; openMs: number; maxOpenMs: number; jitter: number};
	onFailure: (operation: string, reason: L2FailureReason, message: string) => void;
	onBreakerChange: (state: BreakerState, previous: BreakerState) => void;
};

// Replies that mean the server cannot serve right now (as opposed to "your command is wrong").
const UNHEALTHY_REPLY = /^(LOADING|BUSY|CLUSTERDOWN|MASTERDOWN|TRYAGAIN|READONLY|NOREPLICAS|OOM)\b/;

const DEADLINE_PASSED = Symbol('deadline-passed');

// Client states after a connection was lost (or closed on purpose): nothing sent now would be answered soon.
const CONNECTION_LOST = new Set<string>(['reconnecting', 'close', 'end', 'disconnecting']);

export class RedisTier {
	readonly client: RedisClient;
	readonly breaker: CircuitBreaker;
	readonly latency = new LatencyHistogram();
	readonly failures: Record<L2FailureReason, number> = {timeout: 0, error: 0, 'not-ready': 0, reply: 0};
	/** Calls the open breaker refused without sending anything. */
	refused = 0;
	readonly #batcher: MgetBatcher;
	readonly #options: RedisTierOptions;

	constructor(options: RedisTierOptions) {
		this.#options = options;
		this.client = options.client;
		this.breaker = new CircuitBreaker({...options.breaker, onStateChange: options.onBreakerChange});
		this.#batcher = new MgetBatcher({
			maxKeys: options.maxBatchKeys,
			slotOf: isCluster(options.client) ? clusterKeySlot : undefined,
			run: async keys => {
				const values = await this.call('mget', async client => client.mget(...keys));
				return values === L2_UNAVAILABLE ? undefined : values;
			},
		});
	}

	/** The string at `key` (null when absent), or undefined when L2 did not answer; batched per tick. */
	get(key: string): Promise<string | null | undefined> {
		return this.#batcher.get(key);
	}

	/** MGETs sent and keys read through them. */
	get batching(): {batches: number; keys: number} {
		return {batches: this.#batcher.batches, keys: this.#batcher.keys};
	}

	/** True while the client is connected. */
	get connected(): boolean {
		return this.client.status === 'ready';
	}

	/** Runs one guarded Redis call (see the file comment). */
	async call<T>(operation: string, work: (client: RedisClient) => Promise<T>, deadlineMs = this.#options.deadlineMs): Promise<T | L2Unavailable> {
		if (CONNECTION_LOST.has(this.client.status)) {
			// Costs the caller nothing, so it is not held against the breaker (which exists for
			// calls that cost time), and a probe is not wasted on a connection that is down. A
			// client still making its first connection is let through: the command waits in the
			// offline queue, bounded by the deadline like any other.
			this.#failed(operation, 'not-ready', `the Redis client is ${this.client.status}`);
			return L2_UNAVAILABLE;
		}

		const ticket = this.breaker.admit();
		if (ticket === undefined) {
			this.refused++;
			return L2_UNAVAILABLE;
		}

		const started = performance.now();
		let timer: NodeJS.Timeout | undefined;
		try {
			const result = await Promise.race([
				work(this.client),
				new Promise<never>((_resolve, reject) => {
					timer = setTimeout(reject, deadlineMs, DEADLINE_PASSED);
				}),
			]);
			this.latency.record(performance.now() - started);
			this.breaker.succeeded(ticket);
			return result;
		} catch (error) {
			this.latency.record(performance.now() - started);
			if (error === DEADLINE_PASSED) {
				this.breaker.failed(ticket);
				this.#failed(operation, 'timeout', `no answer within ${deadlineMs} ms`);
			} else if (isReplyError(error) && !UNHEALTHY_REPLY.test(error.message)) {
				// Redis answered, so it is healthy; the command or the data is what is wrong.
				this.breaker.succeeded(ticket);
				this.#failed(operation, 'reply', error.message);
			} else {
				this.breaker.failed(ticket);
				this.#failed(operation, 'error', error instanceof Error ? error.message : String(error));
			}

			return L2_UNAVAILABLE;
		} finally {
			clearTimeout(timer);
		}
	}

	/** The primaries to SCAN or INFO: the cluster's masters, or the one server. */
	masters(): Redis[] {
		return masterNodes(this.client);
	}

	#failed(operation: string, reason: L2FailureReason, message: string): void {
		this.failures[reason]++;
		this.#options.onFailure(operation, reason, message);
	}
}

function isReplyError(error: unknown): error is Error {
	return error instanceof Error && error.name === 'ReplyError';
}
