import {randomBytes} from 'node:crypto';
import type {Cluster} from 'ioredis';
import {isCluster, type RedisClient} from '../redis/redis-client.js';
import type {L1ClearReason} from './cache-events.js';
import type {CacheKeyspace} from './cache-keyspace.js';
import {publishInvalidationScript} from './cache-scripts.js';
import {decodeInvalidationMessage, encodeInvalidationBody, type Invalidation} from './invalidation-message.js';
import {L2_UNAVAILABLE, type RedisTier} from './redis-tier.js';

/**
 * Cross-instance L1 invalidation over Redis pub/sub, with sequence numbers so a lost message is
 * noticed instead of leaving a stale L1 entry behind until its TTL.
 *
 * Publishing: one script takes the next number of the namespace's counter and publishes the
 * message with it (cache-scripts.ts), so numbers leave Redis in order.
 *
 * Receiving: each instance remembers the last number it saw (`lastSeq`) and the counter's epoch.
 * - next number → apply the invalidation (evict from L1);
 * - a number was skipped → a message was lost: clear all of L1 (`sequence-gap`);
 * - a new epoch → Redis lost the counter and started over: clear all of L1 (`sequence-reset`);
 * - the subscriber connection closes → clear L1 (`subscription-lost`); while unsubscribed the
 *   cache keeps L1 entries only briefly (`l1.unsubscribedTtlMs`); when the subscription is back,
 *   clear L1 again (`subscription-restored`), since what was published meanwhile is unknown.
 * - Audit: pub/sub cannot tell a lost *last* message from silence, so every `auditIntervalMs` the
 *   bus reads the counter; if it is ahead of `lastSeq` and still ahead a moment later (the
 *   message may just be in flight), that is a gap too.
 * - A Cluster client subscribes on a hidden connection to one node and, when it drops, moves to
 *   another node without a word to the Cluster's listeners; the bus watches that connection
 *   itself (see #watchClusterConnection), so a loss there clears L1 like any other.
 */

export type InvalidationBusOptions = {
	tier: RedisTier;
	subscriber: RedisClient;
	keyspace: CacheKeyspace;
	instanceId: string;
	auditIntervalMs: number;
	subscribeTimeoutMs: number;
	/** Applies a remote invalidation to L1 (own messages are skipped: applied when issued). */
	apply: (invalidation: Invalidation) => void;
	/** Clears all of L1. */
	reset: (reason: L1ClearReason) => void;
};

export type InvalidationBusSnapshot = {
	subscribed: boolean;
	/** The counter's epoch as last seen; undefined before anything was seen. */
	epoch: string | undefined;
	lastSeq: number | undefined;
	published: number;
	publishFailures: number;
	received: number;
	gaps: number;
	resets: number;
	subscriptionLosses: number;
};

// How long a counter ahead of lastSeq may be explained by a message still in flight.
const AUDIT_GRACE_MS = 250;

export class InvalidationBus {
	#subscribed = false;
	#everSubscribed = false;
	#closed = false;
	#epoch: string | undefined;
	#lastSeq: number | undefined;
	#published = 0;
	#publishFailures = 0;
	#received = 0;
	#gaps = 0;
	#resets = 0;
	#losses = 0;
	#auditTimer: NodeJS.Timeout | undefined;
	#auditing = false;
	#subscribing: Promise<boolean> | undefined;
	#clusterConnection: SubscriberConnection | undefined;
	readonly #options: InvalidationBusOptions;
	readonly #channel: string;

	constructor(options: InvalidationBusOptions) {
		this.#options = options;
		this.#channel = options.keyspace.channel;
	}

	/** True while invalidations from other instances are being heard. */
	get subscribed(): boolean {
		return this.#subscribed;
	}

	/** Subscribes and starts the audit; resolves with whether the first subscription succeeded. */
	async start(): Promise<boolean> {
		const {subscriber, auditIntervalMs} = this.#options;
		subscriber.on('message', this.#onMessage);
		subscriber.on('close', this.#onClose);
		subscriber.on('ready', this.#onReady);
		if (auditIntervalMs > 0) {
			this.#auditTimer = setInterval(() => void this.#audit(), auditIntervalMs);
			this.#auditTimer.unref();
		}

		return this.#subscribe();
	}

	/** Sends an invalidation to every instance; false when Redis could not be reached. */
	async publish(invalidation: Invalidation): Promise<boolean> {
		const {tier, keyspace, instanceId} = this.#options;
		const body = encodeInvalidationBody(instanceId, invalidation);
		const result = await tier.call('publish', async client =>
			publishInvalidationScript.run(client, [keyspace.sequenceKey], [this.#channel, newEpoch(), body]),
		);
		if (result === L2_UNAVAILABLE) {
			this.#publishFailures++;
			return false;
		}

		this.#published++;
		return true;
	}

	/** Plain data for stats(). */
	snapshot(): InvalidationBusSnapshot {
		return {
			subscribed: this.#subscribed,
			epoch: this.#epoch,
			lastSeq: this.#lastSeq,
			published: this.#published,
			publishFailures: this.#publishFailures,
			received: this.#received,
			gaps: this.#gaps,
			resets: this.#resets,
			subscriptionLosses: this.#losses,
		};
	}

	/** Stops listening (the subscriber connection itself belongs to the caller). */
	async close(): Promise<void> {
		this.#closed = true;
		this.#subscribed = false;
		clearInterval(this.#auditTimer);
		const {subscriber} = this.#options;
		subscriber.off('message', this.#onMessage);
		subscriber.off('close', this.#onClose);
		subscriber.off('ready', this.#onReady);
		this.#unwatchClusterConnection();
		if (subscriber.status === 'ready') {
			await withTimeout(subscriber.unsubscribe(this.#channel), this.#options.subscribeTimeoutMs).catch(() => {});
		}
	}

	async #subscribe(): Promise<boolean> {
		this.#subscribing ??= (async () => {
			try {
				await withTimeout(this.#options.subscriber.subscribe(this.#channel), this.#options.subscribeTimeoutMs);
			} catch {
				// Not connected yet, or the server is gone: the next 'ready' tries again.
				return false;
			}

			if (this.#closed) {
				return false;
			}

			this.#subscribed = true;
			if (this.#everSubscribed) {
				// Whatever was published while we were away is unknown: start from empty. (Before
				// the first subscription, L1 entries were only kept for l1.unsubscribedTtlMs.)
				this.#clear('subscription-restored');
			}

			this.#everSubscribed = true;
			this.#watchClusterConnection();
			await this.#readCounter('baseline');
			return true;
		})().finally(() => {
			this.#subscribing = undefined;
		});
		return this.#subscribing;
	}

	readonly #onMessage = (channel: string, text: string): void => {
		if (channel !== this.#channel || this.#closed) {
			return;
		}

		const message = decodeInvalidationMessage(text);
		if (!message) {
			return;
		}

		this.#received++;
		const {epoch, seq} = message;
		if (this.#epoch === undefined || this.#lastSeq === undefined) {
			this.#epoch = epoch;
			this.#lastSeq = seq;
		} else if (epoch !== this.#epoch) {
			this.#resets++;
			this.#epoch = epoch;
			this.#lastSeq = seq;
			this.#clear('sequence-reset');
			return;
		} else if (seq > this.#lastSeq + 1) {
			this.#gaps++;
			this.#lastSeq = seq;
			this.#clear('sequence-gap');
			return;
		} else if (seq === this.#lastSeq + 1) {
			this.#lastSeq = seq;
		}
		// seq ≤ lastSeq: already covered by a counter read that raced the message; applying it again is harmless.

		if (message.origin !== this.#options.instanceId) {
			this.#options.apply(message);
		}
	};

	readonly #onClose = (): void => {
		if (this.#subscribed) {
			this.#subscribed = false;
			this.#losses++;
			this.#clear('subscription-lost');
		}
	};

	readonly #onReady = (): void => {
		if (!this.#closed && !this.#subscribed) {
			void this.#subscribe();
		}
	};

	/**
	 * A Cluster client subscribes on a connection of its own to one node. When that connection
	 * drops, ioredis picks a node and subscribes again, but the Cluster object emits nothing: no
	 * `close`, so without this L1 would survive the loss and messages published in between would
	 * go unnoticed until the audit (never, with the audit off). So the bus listens on that
	 * connection, and on each one ioredis replaces it with. It is ioredis-internal (5.x:
	 * `cluster.subscriber.getInstance()`); if a later version moves it, nothing is found here and
	 * the audit is left to catch what a lost subscription missed.
	 */
	#watchClusterConnection(): void {
		const {subscriber} = this.#options;
		if (this.#closed || !isCluster(subscriber)) {
			return;
		}

		const connection = clusterSubscriberConnection(subscriber);
		if (connection === undefined || connection === this.#clusterConnection) {
			return;
		}

		this.#unwatchClusterConnection();
		this.#clusterConnection = connection;
		connection.on('close', this.#onClose);
		connection.on('ready', this.#onReady);
		connection.on('end', this.#onClusterConnectionEnd);
		if (connection.status === 'ready') {
			this.#onReady();
		}
	}

	#unwatchClusterConnection(): void {
		const connection = this.#clusterConnection;
		this.#clusterConnection = undefined;
		connection?.off('close', this.#onClose);
		connection?.off('ready', this.#onReady);
		connection?.off('end', this.#onClusterConnectionEnd);
	}

	// ioredis chooses the replacement in its own 'end' listener, which may run after this one.
	readonly #onClusterConnectionEnd = (): void => {
		setImmediate(() => this.#watchClusterConnection());
	};

	async #audit(): Promise<void> {
		if (!this.#subscribed || this.#auditing) {
			return;
		}

		this.#auditing = true;
		try {
			const ahead = await this.#readCounter('audit');
			if (ahead === undefined) {
				return;
			}

			// The counter is ahead: either a message is in flight or it was lost. Look again shortly.
			await new Promise(resolve => setTimeout(resolve, AUDIT_GRACE_MS).unref());
			if (this.#subscribed && this.#epoch === ahead.epoch && this.#lastSeq !== undefined && this.#lastSeq < ahead.n) {
				this.#gaps++;
				this.#lastSeq = ahead.n;
				this.#clear('sequence-gap');
			}
		} finally {
			this.#auditing = false;
		}
	}

	/**
	 * Reads the counter and reconciles it with what was received. Returns the counter when it is
	 * ahead of lastSeq in the same epoch (for the audit to judge), else undefined.
	 */
	async #readCounter(purpose: 'baseline' | 'audit'): Promise<{epoch: string; n: number} | undefined> {
		const {tier, keyspace} = this.#options;
		const result = await tier.call('sequence', async client => client.hmget(keyspace.sequenceKey, 'epoch', 'n'));
		if (result === L2_UNAVAILABLE || this.#closed) {
			return undefined;
		}

		const [epoch, nText] = result;
		if (!epoch) {
			// No counter: nothing was ever published, or Redis lost it.
			if (this.#epoch !== undefined && purpose === 'audit') {
				this.#resets++;
				this.#clear('sequence-reset');
			}

			this.#epoch = undefined;
			this.#lastSeq = undefined;
			return undefined;
		}

		const n = Number(nText ?? 0);
		if (this.#epoch === undefined || this.#lastSeq === undefined) {
			this.#epoch = epoch;
			this.#lastSeq = n;
			return undefined;
		}

		if (epoch !== this.#epoch) {
			this.#resets++;
			this.#epoch = epoch;
			this.#lastSeq = n;
			this.#clear('sequence-reset');
			return undefined;
		}

		if (purpose === 'baseline') {
			// A message may have been handled before this read's reply arrived: keep the larger.
			this.#lastSeq = Math.max(this.#lastSeq, n);
			return undefined;
		}

		return n > this.#lastSeq ? {epoch, n} : undefined;
	}

	#clear(reason: L1ClearReason): void {
		this.#options.reset(reason);
	}
}

/** What the bus needs of the connection a Cluster subscribes on. */
type SubscriberConnection = {
	readonly status: string;
	on(event: string, listener: () => void): unknown;
	off(event: string, listener: () => void): unknown;
};

/** The connection a Cluster client subscribes on now, if ioredis exposes it as 5.x does. */
function clusterSubscriberConnection(cluster: Cluster): SubscriberConnection | undefined {
	const holder = (cluster as unknown as {subscriber?: {getInstance?: () => unknown}}).subscriber;
	const connection = typeof holder?.getInstance === 'function' ? (holder.getInstance() as Partial<SubscriberConnection> | null) : undefined;
	return connection && typeof connection.on === 'function' && typeof connection.off === 'function' && typeof connection.status === 'string'
		? (connection as SubscriberConnection)
		: undefined;
}

function newEpoch(): string {
	return randomBytes(6).toString('hex');
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	try {
		return await Promise.race([
			promise,
			new Promise<never>((_resolve, reject) => {
				timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
			}),
		]);
	} finally {
		clearTimeout(timer);
	}
}
