import type {NatsConnection} from '@nats-io/transport-node';
import type {JetStreamClient, JetStreamManager} from '@nats-io/jetstream';
import {ActionableError, BugError} from '../errors.js';
import {redact, registerSecret, registerUrlSecrets} from '../redact.js';
import type {RedisClient} from '../redis/redis-client.js';
import {agentStateEventsKey, agentStateSubject} from './agent-state-layout.js';
import type {ConsistencyLevel} from './consistency-level.js';

/** One committed change of an agent's state, as the events carry it. */
export type AgentStateChange = {
	agentId: string;
	/** The version PostgreSQL holds after the change (versions only increase per agent). */
	version: number;
	/** The new state (any JSON value); events carry it whole so followers need not read it back. */
	state: unknown;
	/** The consistency level the write was made with. */
	level: ConsistencyLevel;
	/** ISO 8601 time of the change. */
	changedAt: string;
};

export type AgentStateEventPublisherOptions = {
	/** The connection that holds the agent state (the events stream lives beside it). */
	redis: RedisClient;
	/** The key environment (MSDB_ENV), as in `ms:<env>:agent-state-events`. */
	env: string;
	/**
	 * NATS server(s) (`NATS_URL`): `nats://[user:pass@|token@]host:port`, comma-separated for
	 * several seeds. Unset or blank: events go to the Redis stream only, and the NATS client is
	 * never loaded. A value that is not a URL throws `E_CONFIG_INVALID` from the constructor.
	 */
	natsUrl?: string | undefined;
	/**
	 * JetStream stream to create when no stream covers `agent.*.state.changed` yet. A stream
	 * that already covers the subjects (whatever its name) is used as it is: JetStream refuses
	 * two streams with overlapping subjects, and an operator's tuning must survive restarts.
	 */
	streamName?: string;
	/** Approximate bound of the Redis events stream (XADD MAXLEN ~). */
	maxLen?: number;
	/** Milliseconds to wait for a JetStream ack (and for the first connection). */
	natsTimeoutMs?: number;
	/** After a NATS failure, NATS is skipped (events counted in `stats.nats.skipped`) for this long. */
	natsRetryAfterMs?: number;
	/** NATS failures: the change is durable and in the Redis stream, so they never reject `publish`. */
	onError?: (error: Error) => void;
};

/** Counters since the publisher was created. */
export type AgentStateEventStats = {
	redis: {published: number};
	nats: {enabled: boolean; published: number; duplicates: number; failed: number; skipped: number};
};

/** Subjects of the JetStream stream: every agent's state changes. */
export const AGENT_STATE_SUBJECTS = 'agent.*.state.changed';
export const DEFAULT_AGENT_STATE_STREAM = 'AGENT_STATE';
export const DEFAULT_EVENTS_MAXLEN = 10_000;
const DEFAULT_NATS_TIMEOUT_MS = 5000;
const DEFAULT_NATS_RETRY_AFTER_MS = 5000;
// A retried publish of the same agentId:version within this window is dropped by JetStream.
const DUPLICATE_WINDOW_NS = 2 * 60 * 1e9;
// Only applied when msdb creates the stream; an existing stream keeps its own limits.
const STREAM_MAX_AGE_NS = 7 * 24 * 3600 * 1e9;
// JetStream API error codes (nats-server): stream not found, name in use, subjects overlap.
const STREAM_NOT_FOUND = 10_059;
const STREAM_NAME_IN_USE = 10_058;
const SUBJECTS_OVERLAP = 10_065;

type NatsSide = {connection: NatsConnection; jetstream: JetStreamClient};

/**
 * Tells the rest of the framework that an agent's state changed: an entry in the Redis stream
 * `ms:<env>:agent-state-events` and, when NATS is configured, a JetStream message on
 * `agent.<id>.state.changed` (payload: the {@link AgentStateChange} as JSON, `Nats-Msg-Id`
 * `<agentId>:<version>`).
 *
 * Ordering is the caller's duty and this class keeps it: callers publish each agent's changes in
 * version order, one at a time, and `publish` resolves only after Redis and the JetStream ack, so
 * change n is stored before change n + 1 is sent.
 *
 * Failures, chosen so that a NATS outage never holds up state writes:
 * - the Redis XADD failing rejects `publish`: the caller (the relay, whose outbox row is still
 *   there) retries. A retry may add a second Redis entry for the same version; followers of the
 *   stream deduplicate by agentId + version;
 * - NATS failing does not reject: the error goes to `onError`, and NATS is skipped for
 *   `natsRetryAfterMs` so an outage costs one timeout, not one per change. Subscribers see a gap
 *   in the versions (never a reorder) and can catch up from the Redis stream or PostgreSQL. A
 *   retried publish that does reach JetStream twice is dropped there by its `Nats-Msg-Id`.
 */
export class AgentStateEventPublisher {
	private readonly redis: RedisClient;
	private readonly eventsKey: string;
	private readonly natsOptions: NatsConnectOptions | undefined;
	private readonly streamName: string;
	private readonly maxLen: number;
	private readonly natsTimeoutMs: number;
	private readonly natsRetryAfterMs: number;
	private readonly onError: (error: Error) => void;
	private nats: Promise<NatsSide> | undefined;
	private natsPausedUntil = 0;
	private closed = false;
	private readonly counters: AgentStateEventStats;

	constructor(options: AgentStateEventPublisherOptions) {
		this.redis = options.redis;
		this.eventsKey = agentStateEventsKey(options.env);
		const natsUrl = options.natsUrl?.trim();
		// Parsed now, so a bad NATS_URL fails at start-up rather than at the first change, and its
		// password or token is known to redact() before any message could carry it.
		this.natsOptions = natsUrl === undefined || natsUrl === '' ? undefined : natsConnectOptions(natsUrl);
		this.streamName = options.streamName ?? DEFAULT_AGENT_STATE_STREAM;
		this.maxLen = options.maxLen ?? DEFAULT_EVENTS_MAXLEN;
		this.natsTimeoutMs = options.natsTimeoutMs ?? DEFAULT_NATS_TIMEOUT_MS;
		this.natsRetryAfterMs = options.natsRetryAfterMs ?? DEFAULT_NATS_RETRY_AFTER_MS;
		this.onError = options.onError ?? (() => {});
		this.counters = {redis: {published: 0}, nats: {enabled: this.natsOptions !== undefined, published: 0, duplicates: 0, failed: 0, skipped: 0}};
	}

	/** Counters since creation (a copy). */
	get stats(): AgentStateEventStats {
		return {redis: {...this.counters.redis}, nats: {...this.counters.nats}};
	}

	/**
	 * Publishes one change: XADD to the Redis events stream, then (with NATS) the JetStream publish,
	 * awaiting its ack. Rejects only when Redis fails (see the class comment).
	 */
	async publish(change: AgentStateChange): Promise<void> {
		if (this.closed) {
			throw new BugError('AgentStateEventPublisher.publish() was called after close().');
		}

		const state = JSON.stringify(change.state) ?? 'null';
		await this.redis.xadd(
			this.eventsKey,
			'MAXLEN',
			'~',
			this.maxLen,
			'*',
			'agentId',
			change.agentId,
			'version',
			String(change.version),
			'level',
			change.level,
			'changedAt',
			change.changedAt,
			'state',
			state,
		);
		this.counters.redis.published++;
		if (this.natsOptions !== undefined) {
			await this.publishToNats(change, state);
		}
	}

	/** Ends the NATS connection (after its pending acks); the Redis client belongs to the caller. Idempotent. */
	async close(): Promise<void> {
		this.closed = true;
		const nats = this.nats;
		this.nats = undefined;
		if (nats) {
			const side = await nats.catch(() => undefined);
			await side?.connection.drain().catch(async () => side.connection.close());
		}
	}

	private async publishToNats(change: AgentStateChange, state: string): Promise<void> {
		if (Date.now() < this.natsPausedUntil) {
			this.counters.nats.skipped++;
			return;
		}

		const payload = `{"agentId":${JSON.stringify(change.agentId)},"version":${change.version},"level":${JSON.stringify(change.level)},"changedAt":${JSON.stringify(change.changedAt)},"state":${state}}`;
		try {
			const {jetstream} = await this.natsSide();
			const ack = await jetstream.publish(agentStateSubject(change.agentId), payload, {
				msgID: `${change.agentId}:${change.version}`,
				timeout: this.natsTimeoutMs,
			});
			if (ack.duplicate) {
				this.counters.nats.duplicates++;
			} else {
				this.counters.nats.published++;
			}
		} catch (error) {
			this.counters.nats.failed++;
			this.natsPausedUntil = Date.now() + this.natsRetryAfterMs;
			this.onError(
				new ActionableError(
					'E_SERVICE_UNAVAILABLE',
					redact(`NATS at ${this.natsDisplay()} did not take the state change of agent ${change.agentId} version ${change.version}: ${(error as Error).message}`),
					{
						nextStep: `Check that nats-server (with JetStream) is up and NATS_URL is right; NATS is retried in ${this.natsRetryAfterMs} ms, and the change is in the Redis stream meanwhile.`,
						details: {agentId: change.agentId, version: change.version},
						cause: error,
					},
				),
			);
		}
	}

	private async natsSide(): Promise<NatsSide> {
		this.nats ??= this.connectNats();
		try {
			return await this.nats;
		} catch (error) {
			// The next attempt (after the pause) connects afresh.
			this.nats = undefined;
			throw error;
		}
	}

	private async connectNats(): Promise<NatsSide> {
		// Loaded only here: commands and services without NATS_URL never pay for the client.
		const [{connect}, {jetstream, jetstreamManager}] = await Promise.all([import('@nats-io/transport-node'), import('@nats-io/jetstream')]);
		const connection = await connect({
			...this.natsOptions,
			name: 'msdb:agent-state-events',
			timeout: this.natsTimeoutMs,
			// Once connected, ride out outages: the client reconnects on its own.
			maxReconnectAttempts: -1,
			reconnectTimeWait: 1000,
		});
		try {
			await ensureStream(await jetstreamManager(connection, {timeout: this.natsTimeoutMs}), this.streamName);
			return {connection, jetstream: jetstream(connection, {timeout: this.natsTimeoutMs})};
		} catch (error) {
			await connection.close().catch(() => {});
			throw error;
		}
	}

	private natsDisplay(): string {
		return this.natsOptions?.servers.join(',') ?? '';
	}
}

/**
 * Makes sure a JetStream stream covers `agent.*.state.changed`: an existing one (any name) is
 * used as it is; else the named stream is created, or given the subjects if it exists without
 * them. Another process doing the same at the same moment is not an error.
 */
async function ensureStream(manager: JetStreamManager, streamName: string): Promise<void> {
	if (await coveringStream(manager)) {
		return;
	}

	try {
		const existing = await manager.streams.info(streamName).catch((error: unknown) => {
			if (apiErrorCode(error) === STREAM_NOT_FOUND) {
				return undefined;
			}

			throw error;
		});
		if (existing) {
			await manager.streams.update(streamName, {subjects: [...(existing.config.subjects ?? []), AGENT_STATE_SUBJECTS]});
		} else {
			await manager.streams.add({
				name: streamName,
				subjects: [AGENT_STATE_SUBJECTS],
				duplicate_window: DUPLICATE_WINDOW_NS,
				max_age: STREAM_MAX_AGE_NS,
			});
		}
	} catch (error) {
		const code = apiErrorCode(error);
		if ((code === STREAM_NAME_IN_USE || code === SUBJECTS_OVERLAP) && (await coveringStream(manager))) {
			return;
		}

		throw error;
	}
}

async function coveringStream(manager: JetStreamManager): Promise<string | undefined> {
	try {
		return await manager.streams.find(AGENT_STATE_SUBJECTS);
	} catch (error) {
		if (error instanceof Error && /no stream matches subject/i.test(error.message)) {
			return undefined;
		}

		throw error;
	}
}

function apiErrorCode(error: unknown): number | undefined {
	const code = (error as {code?: unknown} | undefined)?.code;
	return typeof code === 'number' ? code : undefined;
}

/** Servers and credentials for nats.js `connect()`. */
export type NatsConnectOptions = {servers: string[]; user?: string; pass?: string; token?: string};

/**
 * nats.js takes credentials as options, not inside server URLs: `user:pass@` becomes user/pass
 * and a lone `token@` a token, and the servers are passed without them.
 */
export function natsConnectOptions(natsUrl: string): NatsConnectOptions {
	const options: NatsConnectOptions = {servers: []};
	for (const [index, raw] of natsUrl.split(',').entries()) {
		const value = raw.trim();
		if (value === '') {
			continue;
		}

		let url: URL;
		try {
			url = new URL(withScheme(value));
		} catch {
			// Not echoed: an unparseable value may hold a token no pattern would recognise.
			throw new ActionableError('E_CONFIG_INVALID', `NATS_URL: server ${index + 1} is not a URL.`, {
				nextStep: 'Use nats://[user:pass@|token@]host:4222 (comma-separated for several servers).',
			});
		}

		registerUrlSecrets(url.toString());

		if (url.username !== '' && options.user === undefined && options.token === undefined) {
			if (url.password === '') {
				options.token = decodeURIComponent(url.username);
				registerSecret(options.token);
				registerSecret(url.username);
			} else {
				options.user = decodeURIComponent(url.username);
				options.pass = decodeURIComponent(url.password);
			}
		}

		options.servers.push(`${url.protocol}//${url.host}`);
	}

	if (options.servers.length === 0) {
		throw new ActionableError('E_CONFIG_INVALID', 'NATS_URL names no server.', {nextStep: 'Use nats://host:4222, or unset NATS_URL to publish to Redis only.'});
	}

	return options;
}

function withScheme(value: string): string {
	return /^[a-z][a-z\d+.-]*:\/\//i.test(value) ? value : `nats://${value}`;
}
