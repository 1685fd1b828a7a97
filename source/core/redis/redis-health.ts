/**
 * Health of one Redis connection, for `msdb health`, the console and service readiness probes:
 * is it reachable, how long a PING takes, what the server is (version, primary or replica), and
 * how close it is to its limits (memory vs maxmemory, clients vs maxclients). For a cluster the
 * figures are summed over the master nodes, which each hold a share of the data.
 *
 * A health check must answer even when Redis does not: it never throws, and gives up after a
 * deadline, reporting `{reachable: false, error}` with credentials masked.
 */
import type {Cluster, Redis} from 'ioredis';
import {redact} from '../redact.js';
import {isCluster, type RedisClient} from './redis-client.js';
import type {RedisEndpointKind, RedisRole} from './redis-config.js';

/** The figures of one server (a standalone server, the Sentinel primary, or a cluster master). */
export type RedisServerHealth = {
	/** host:port as connected to. */
	address: string;
	/** PING round trip, ms. */
	latencyMs: number;
	version?: string;
	/** From INFO replication. */
	serverRole?: 'master' | 'replica';
	usedMemoryBytes?: number;
	/** maxmemory; 0 means no limit. */
	maxMemoryBytes?: number;
	connectedClients?: number;
	maxClients?: number;
};

/** Health of one role's connection. */
export type RedisRoleHealth = {
	role: RedisRole;
	/** The endpoint, password masked. */
	endpoint: string;
	mode: RedisEndpointKind;
	reachable: boolean;
	/** PING round trip, ms (a cluster: the slowest master). */
	latencyMs?: number;
	/** A cluster whose masters differ lists each version, comma-separated. */
	serverVersion?: string;
	serverRole?: 'master' | 'replica';
	usedMemoryBytes?: number;
	/** maxmemory; 0 means no limit (a cluster: 0 if any master has none). */
	maxMemoryBytes?: number;
	connectedClients?: number;
	maxClients?: number;
	/** Cluster only: `cluster_state` as a master reports it. */
	clusterState?: string;
	/** Cluster only: one entry per master. */
	nodes?: RedisServerHealth[];
	/** Why it is unreachable; credentials masked. */
	error?: string;
};

export type RedisHealthCheckOptions = {
	role: RedisRole;
	/** The endpoint's display form (already redacted). */
	endpoint: string;
	mode: RedisEndpointKind;
	/** The whole check, all nodes included, gives up after this long (default 2000 ms). */
	timeoutMs?: number;
};

export const DEFAULT_HEALTH_TIMEOUT_MS = 2000;

/** Checks one connection. Never throws; resolves within `timeoutMs` (plus a timer tick). */
export async function checkRedisHealth(client: RedisClient, options: RedisHealthCheckOptions): Promise<RedisRoleHealth> {
	const base = {role: options.role, endpoint: options.endpoint, mode: options.mode};
	const timeoutMs = options.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
	const timer = new AbortController();
	try {
		const deadline = new Promise<never>((_resolve, reject) => {
			const handle = setTimeout(() => {
				reject(new Error(`no answer within ${timeoutMs} ms`));
			}, timeoutMs);
			timer.signal.addEventListener('abort', () => clearTimeout(handle));
		});
		const figures = await Promise.race([isCluster(client) ? clusterFigures(client) : serverFigures(client), deadline]);
		return {...base, reachable: true, ...figures};
	} catch (error) {
		return {...base, reachable: false, error: redact(describeFailure(error))};
	} finally {
		timer.abort();
	}
}

type Figures = Omit<RedisRoleHealth, 'role' | 'endpoint' | 'mode' | 'reachable' | 'error'>;

async function serverFigures(client: Redis): Promise<Figures> {
	const {address: _address, version, ...figures} = await measureServer(client);
	return {...figures, ...optional('serverVersion', version)};
}

async function clusterFigures(client: Cluster): Promise<Figures> {
	// A fresh cluster client knows its masters only after loading the slot map; the PING waits for that.
	await client.ping();
	const masters = client.nodes('master');
	if (masters.length === 0) {
		throw new Error('the cluster reports no master nodes');
	}

	const [servers, clusterInfo] = await Promise.all([
		Promise.all(masters.map(async master => measureServer(master))),
		masters[0]?.call('CLUSTER', 'INFO'),
	]);
	const versions = [...new Set(servers.map(server => server.version).filter(version => version !== undefined))];
	const maxMemories = servers.map(server => server.maxMemoryBytes);
	return {
		latencyMs: Math.max(...servers.map(server => server.latencyMs)),
		...(versions.length > 0 ? {serverVersion: versions.join(', ')} : {}),
		serverRole: 'master',
		...sum('usedMemoryBytes', servers.map(server => server.usedMemoryBytes)),
		// One master without a limit means the cluster as a whole has none.
		...(maxMemories.every(value => value !== undefined)
			? {maxMemoryBytes: maxMemories.includes(0) ? 0 : maxMemories.reduce((total, value) => total + value, 0)}
			: {}),
		...sum('connectedClients', servers.map(server => server.connectedClients)),
		...sum('maxClients', servers.map(server => server.maxClients)),
		...(typeof clusterInfo === 'string' ? {clusterState: parseInfo(clusterInfo)['cluster_state'] ?? 'unknown'} : {}),
		nodes: servers,
	};
}

async function measureServer(client: Redis): Promise<RedisServerHealth> {
	const started = performance.now();
	await client.ping();
	const latencyMs = Math.round((performance.now() - started) * 100) / 100;
	// One INFO (all default sections) instead of one per section: INFO with several section
	// names needs Redis 7, and managed services often rename CONFIG, so maxclients comes from here.
	const info = parseInfo(await client.info());
	const role = info['role'];
	return {
		address: addressOf(client),
		latencyMs,
		...optional('version', info['redis_version']),
		...(role === 'master' ? {serverRole: 'master' as const} : role === 'slave' ? {serverRole: 'replica' as const} : {}),
		...optional('usedMemoryBytes', toNumber(info['used_memory'])),
		...optional('maxMemoryBytes', toNumber(info['maxmemory'])),
		...optional('connectedClients', toNumber(info['connected_clients'])),
		...optional('maxClients', toNumber(info['maxclients'])),
	};
}

function describeFailure(error: unknown): string {
	if (!(error instanceof Error)) {
		return String(error);
	}

	// With maxRetriesPerRequest 0 this is how ioredis fails commands when a connection attempt
	// fails; its own text ("Reached the max retries per request limit") misleads.
	return error.name === 'MaxRetriesPerRequestError' ? 'the connection failed before the check was answered' : error.message;
}

/** `field:value` lines of INFO (and CLUSTER INFO) as a record. */
export function parseInfo(text: string): Record<string, string> {
	const record: Record<string, string> = {};
	for (const line of text.split(/\r?\n/)) {
		const colon = line.indexOf(':');
		if (colon > 0 && !line.startsWith('#')) {
			record[line.slice(0, colon)] = line.slice(colon + 1).trim();
		}
	}

	return record;
}

function addressOf(client: Redis): string {
	// For a Sentinel connection the options name the sentinels; the socket names the primary.
	const stream = client.stream as {remoteAddress?: string; remotePort?: number} | undefined;
	if (stream?.remoteAddress && stream.remotePort) {
		return `${stream.remoteAddress}:${stream.remotePort}`;
	}

	return `${client.options.host ?? '?'}:${client.options.port ?? '?'}`;
}

function toNumber(value: string | undefined): number | undefined {
	if (value === undefined || value === '') {
		return undefined;
	}

	const number = Number(value);
	return Number.isFinite(number) ? number : undefined;
}

function optional<K extends string, V>(key: K, value: V | undefined): {[P in K]?: V} {
	return (value === undefined ? {} : {[key]: value}) as {[P in K]?: V};
}

function sum<K extends string>(key: K, values: readonly (number | undefined)[]): {[P in K]?: number} {
	if (values.some(value => value === undefined)) {
		return {};
	}

	return {[key]: (values as number[]).reduce((total, value) => total + value, 0)} as {[P in K]?: number};
}
