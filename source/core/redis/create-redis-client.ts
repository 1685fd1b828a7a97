/**
 * Builds one ioredis client for an endpoint with the settings that keep a dead or slow Redis
 * from making callers wait forever (README "Redis: timeouts, reconnects, offline queue"):
 *
 * - `commandTimeout`: every command has a deadline (default 1 s), time spent in the offline
 *   queue included (see offline-queue-bound.ts). ioredis has none by default, and its retry
 *   limit alone takes 10–70 s to fail a command (reference cache-sessions.md §3).
 * - `connectTimeout`: a connection attempt to a black-holed host gives up after 2 s.
 * - `retryStrategy`: reconnect forever with capped exponential backoff and jitter; callers are
 *   protected by the deadlines and the queue bound, not by giving up on the server.
 * - `maxRetriesPerRequest: 0` and `autoResendUnfulfilledCommands: false`: a command is sent at
 *   most once. When its connection drops it fails right away instead of being replayed after the
 *   reconnect, where a non-idempotent write (INCR, LPUSH, HINCRBY) could run twice
 *   (redis/ioredis #61). Commands issued while reconnecting fail at the next failed attempt, at
 *   their deadline, or are sent when the connection is back, whichever comes first.
 * - the offline queue stays on but is bounded (default 1000 commands); beyond that, commands
 *   are refused at once with `E_REDIS_UNAVAILABLE`.
 * - `connectionName`: CLIENT SETNAME `msdb:<role>`, so CLIENT LIST on the server shows who is who.
 */
import {Cluster, Redis, type ClusterOptions, type RedisOptions} from 'ioredis';
import {boundOfflineQueue, type OfflineQueueState} from './offline-queue-bound.js';
import {reconnectBackoff} from './reconnect-backoff.js';
import type {RedisClient} from './redis-client.js';
import type {RedisEndpoint} from './redis-config.js';

export type RedisClientOptions = {
	/** CLIENT SETNAME; spaces and other characters Redis refuses are replaced by `-`. */
	connectionName?: string;
	/** Names the connection in errors (`cache`, `pubsub subscriber`); defaults to the connection name. */
	label?: string;
	/** Deadline per command, offline-queue wait included (default 1000 ms; 0 disables it). */
	commandTimeoutMs?: number;
	/** Deadline for one connection attempt (default 2000 ms). */
	connectTimeoutMs?: number;
	/** Commands allowed to wait while disconnected (default 1000; 0 refuses them all). */
	maxOfflineQueue?: number;
	/** Largest delay between reconnect attempts (default 2000 ms). */
	maxReconnectDelayMs?: number;
	/** Do not connect until the first command (default false: connect right away). */
	lazyConnect?: boolean;
};

/** A client and the state of its offline-queue bound. */
export type CreatedRedisClient = {client: RedisClient; offlineQueue: OfflineQueueState};

export const DEFAULT_COMMAND_TIMEOUT_MS = 1000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
export const DEFAULT_MAX_OFFLINE_QUEUE = 1000;

/** Creates a Redis (standalone, Sentinel) or Cluster client for `endpoint`. The caller quits it. */
export function createRedisClient(endpoint: RedisEndpoint, options: RedisClientOptions = {}): CreatedRedisClient {
	const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
	const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
	const connectionName = sanitizeConnectionName(options.connectionName ?? 'msdb');
	const retryStrategy = reconnectBackoff({maxMs: options.maxReconnectDelayMs});
	const common: RedisOptions = {
		...(endpoint.username === undefined ? {} : {username: endpoint.username}),
		...(endpoint.password === undefined ? {} : {password: endpoint.password}),
		connectionName,
		...(commandTimeoutMs > 0 ? {commandTimeout: commandTimeoutMs} : {}),
		connectTimeout: connectTimeoutMs,
		maxRetriesPerRequest: 0,
		autoResendUnfulfilledCommands: false,
		enableOfflineQueue: true,
		enableReadyCheck: true,
		// TCP keep-alive notices a peer that vanished without closing the socket (a host that lost
		// power), which would otherwise only be found by the next command's deadline.
		keepAlive: 10_000,
		lazyConnect: options.lazyConnect ?? false,
	};
	let client: RedisClient;
	switch (endpoint.kind) {
		case 'standalone': {
			client = new Redis({
				...common,
				host: endpoint.host,
				port: endpoint.port,
				db: endpoint.db,
				retryStrategy,
				...(endpoint.tls ? {tls: {servername: endpoint.host}} : {}),
			});
			break;
		}

		case 'sentinel': {
			client = new Redis({
				...common,
				sentinels: endpoint.sentinels,
				name: endpoint.masterName,
				role: 'master',
				db: endpoint.db,
				retryStrategy,
				// Asking the sentinels follows the same rules: bounded attempts, backoff between rounds.
				sentinelRetryStrategy: retryStrategy,
				sentinelCommandTimeout: connectTimeoutMs,
				// Move to the new primary as soon as a sentinel announces a failover.
				failoverDetector: true,
			});
			break;
		}

		case 'cluster': {
			const {lazyConnect: _lazyConnect, ...nodeOptions} = common;
			const clusterOptions: ClusterOptions = {
				redisOptions: {...nodeOptions, ...(endpoint.tls ? {tls: {}} : {})},
				clusterRetryStrategy: retryStrategy,
				enableOfflineQueue: true,
				enableReadyCheck: true,
				lazyConnect: options.lazyConnect ?? false,
				slotsRefreshTimeout: connectTimeoutMs,
				// TLS certificates name hosts, not the IPs ioredis would resolve them to.
				...(endpoint.tls ? {dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address)} : {}),
			};
			client = new Cluster(endpoint.seeds, clusterOptions);
			break;
		}
	}

	const offlineQueue = boundOfflineQueue(client, {
		limit: options.maxOfflineQueue ?? DEFAULT_MAX_OFFLINE_QUEUE,
		commandTimeoutMs,
		label: options.label ?? connectionName,
	});
	return {client, offlineQueue};
}

/** CLIENT SETNAME refuses spaces and newlines; keep the name readable instead of failing the connection. */
function sanitizeConnectionName(name: string): string {
	const cleaned = name.replace(/[^\x21-\x7e]/g, '-');
	return cleaned === '' ? 'msdb' : cleaned;
}
