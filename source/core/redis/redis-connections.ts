/**
 * The process's Redis connections, one per role, created on first use.
 *
 * Why one connection per role rather than one shared socket when roles share an endpoint:
 * - CLIENT LIST on the server names each (`msdb:cache`, `msdb:sessions` …), so an operator can
 *   tell which part of the framework holds connections, runs slow commands or is blocked;
 * - a role's slow or blocking commands (a queue consumer's BLMOVE, a large cache MGET) never
 *   queue the other roles' commands behind them on the same socket;
 * - each role's health and backoff are its own.
 * The cost is four sockets per process, far below any server's maxclients.
 *
 * Subscribers get their own connection again (`subscriber()`): a connection in subscriber mode
 * accepts nothing but (P|S)SUBSCRIBE, UNSUBSCRIBE and PING.
 *
 * Every connection is built by createRedisClient: per-command deadlines, reconnect backoff, a
 * bounded offline queue (see that file). The role connections also count their commands by
 * outcome with latency (redis-command-stats.ts, `commandStats()`); subscriber connections do not,
 * since they carry only (UN)SUBSCRIBE and pushed messages, which say nothing about load.
 */
import {ActionableError} from '../errors.js';
import {redact} from '../redact.js';
import {createRedisClient, DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS, type CreatedRedisClient} from './create-redis-client.js';
import type {OfflineQueueState} from './offline-queue-bound.js';
import type {RedisClient} from './redis-client.js';
import {RedisCommandRecorder, type RedisCommandStats} from './redis-command-stats.js';
import {REDIS_ROLES, type RedisConfig, type RedisRole} from './redis-config.js';
import {checkRedisHealth, type RedisRoleHealth} from './redis-health.js';

export type RedisConnectionsOptions = {
	/** Deadline per command, offline-queue wait included (default 1000 ms; 0 disables it). */
	commandTimeoutMs?: number;
	/** Commands allowed to wait per connection while it is disconnected (default 1000). */
	maxOfflineQueue?: number;
	/** Deadline for one connection attempt (default 2000 ms). */
	connectTimeoutMs?: number;
	/** Prefix of CLIENT SETNAME (default `msdb`): connections are named `<prefix>:<role>`. */
	connectionName?: string;
	/** Largest delay between reconnect attempts (default 2000 ms). */
	maxReconnectDelayMs?: number;
	/**
	 * Connection errors (refused, reset, auth) as ioredis reports them while it reconnects; the
	 * message may be passed through `redact()` by the caller before logging. Without this they
	 * are only kept for health().
	 */
	onError?: (role: RedisRole, error: Error, connection: 'client' | 'subscriber') => void;
};

export type RedisHealthOptions = {
	/** Roles to check (default: all four). Checking a role opens its connection. */
	roles?: readonly RedisRole[];
	/** Per role, the whole check gives up after this long (default commandTimeout + connectTimeout). */
	timeoutMs?: number;
};

type Connection = CreatedRedisClient & {lastError?: string; commands?: RedisCommandRecorder};

/** One lazily created connection per role, plus dedicated subscriber connections. */
export class RedisConnections {
	/** The resolved configuration (endpoints and display form). */
	readonly config: RedisConfig;
	private readonly options: RedisConnectionsOptions;
	private readonly clients = new Map<RedisRole, Connection>();
	private readonly subscribers = new Map<RedisRole, Connection>();
	private closed = false;

	constructor(config: RedisConfig, options: RedisConnectionsOptions = {}) {
		this.config = config;
		this.options = options;
	}

	/** The role's connection, created (and connecting) on first call; the same object afterwards. */
	client(role: RedisRole): RedisClient {
		return this.connection(this.clients, role, 'client').client;
	}

	/**
	 * A dedicated connection for SUBSCRIBE / PSUBSCRIBE (default role `pubsub`), separate from
	 * `client(role)` because subscriber mode blocks every other command. ioredis re-subscribes on
	 * its own after a reconnect; messages published while it was away are lost (pub/sub has no
	 * replay), so listeners should watch the `ready` event and treat it as a gap.
	 */
	subscriber(role: RedisRole = 'pubsub'): RedisClient {
		return this.connection(this.subscribers, role, 'subscriber').client;
	}

	/** Offline-queue counters of a role's connection (undefined until it exists). */
	offlineQueue(role: RedisRole, connection: 'client' | 'subscriber' = 'client'): OfflineQueueState | undefined {
		return (connection === 'client' ? this.clients : this.subscribers).get(role)?.offlineQueue;
	}

	/**
	 * Command counters of every role connection opened so far, in role order (subscriber
	 * connections are not counted). Counters run since the connection was created; after close()
	 * the list is empty.
	 */
	commandStats(): RedisCommandStats[] {
		const stats: RedisCommandStats[] = [];
		for (const role of REDIS_ROLES) {
			const commands = this.clients.get(role)?.commands;
			if (commands) {
				stats.push(commands.stats());
			}
		}

		return stats;
	}

	/**
	 * Checks each role's connection (opening it if needed) in parallel. Never throws; an
	 * unreachable role is reported as `{reachable: false, error}` within the deadline.
	 */
	async health(options: RedisHealthOptions = {}): Promise<RedisRoleHealth[]> {
		const timeoutMs =
			options.timeoutMs ??
			(this.options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS) + (this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
		return Promise.all(
			(options.roles ?? REDIS_ROLES).map(async role => {
				const endpoint = this.config.endpoints[role];
				if (this.closed) {
					return {role, endpoint: endpoint.display, mode: endpoint.kind, reachable: false, error: 'the connections were closed'};
				}

				const connection = this.connection(this.clients, role, 'client');
				const health = await checkRedisHealth(connection.client, {role, endpoint: endpoint.display, mode: endpoint.kind, timeoutMs});
				// "Command timed out" says little; the connection's own last error says why.
				if (!health.reachable && connection.lastError && !health.error?.includes(connection.lastError)) {
					health.error = `${health.error ?? 'unreachable'} (last connection error: ${connection.lastError})`;
				}

				return health;
			}),
		);
	}

	/**
	 * Closes every connection: QUIT where the server answers within the command deadline, then
	 * a hard disconnect, so close() ends promptly even when Redis is down. Idempotent.
	 */
	async close(): Promise<void> {
		this.closed = true;
		const connections = [...this.clients.values(), ...this.subscribers.values()];
		this.clients.clear();
		this.subscribers.clear();
		const graceMs = this.options.commandTimeoutMs || DEFAULT_COMMAND_TIMEOUT_MS;
		await Promise.all(
			connections.map(async ({client}) => {
				// Listen first: the socket may close while QUIT is being answered.
				const ended = client.status === 'end' ? Promise.resolve() : new Promise<void>(resolve => client.once('end', () => resolve()));
				await withinMs(client.quit().catch(() => {}), graceMs);
				if (client.status !== 'end') {
					client.disconnect();
				}

				// Resolve once the sockets are really gone, so callers (tests, shutdown hooks) can
				// stop the server or exit right after; bounded in case 'end' never comes.
				await withinMs(ended, graceMs);
			}),
		);
	}

	private connection(map: Map<RedisRole, Connection>, role: RedisRole, kind: 'client' | 'subscriber'): Connection {
		const existing = map.get(role);
		if (existing) {
			return existing;
		}

		if (this.closed) {
			throw new ActionableError('E_REDIS_UNAVAILABLE', `The Redis connections were closed; cannot open the ${role} ${kind} connection.`, {
				nextStep: 'Create a new RedisConnections after close(), or keep the one you have open until shutdown.',
			});
		}

		const endpoint = this.config.endpoints[role];
		const prefix = this.options.connectionName ?? 'msdb';
		const created = createRedisClient(endpoint, {
			connectionName: kind === 'client' ? `${prefix}:${role}` : `${prefix}:${role}:subscriber`,
			label: `${role}${kind === 'client' ? '' : ' subscriber'} at ${endpoint.display}`,
			commandTimeoutMs: this.options.commandTimeoutMs,
			connectTimeoutMs: this.options.connectTimeoutMs,
			maxOfflineQueue: this.options.maxOfflineQueue,
			maxReconnectDelayMs: this.options.maxReconnectDelayMs,
		});
		const connection: Connection = created;
		if (kind === 'client') {
			// Installed after the offline-queue bound, so refusals of a full queue count as errors.
			connection.commands = new RedisCommandRecorder(created.client, role);
		}

		// Without a listener ioredis prints every reconnect failure to the console; keep the last
		// one (redacted) for health() and hand them to the caller if it asked.
		created.client.on('error', (error: Error) => {
			connection.lastError = redact(error.message);
			this.options.onError?.(role, error, kind);
		});
		map.set(role, connection);
		return connection;
	}
}

/** Waits for `promise`, at most `ms`; never rejects. */
async function withinMs(promise: Promise<unknown>, ms: number): Promise<void> {
	let timer: NodeJS.Timeout | undefined;
	try {
		await Promise.race([promise.catch(() => {}), new Promise<void>(resolve => {
			timer = setTimeout(resolve, ms);
		})]);
	} finally {
		clearTimeout(timer);
	}
}
