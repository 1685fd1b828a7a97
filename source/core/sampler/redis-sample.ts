/**
 * One reading of a Redis deployment's gauges: clients against maxclients, memory against
 * maxmemory, commands per second, keyspace hit rate, evictions and the last RDB save.
 *
 * On a cluster the figures are those of the primaries added up: clients, memory, commands,
 * hits and evictions are what the cluster as a whole holds and does (replicas are left out:
 * they mirror their primary's data and serve no writes). Where adding up means nothing the rule
 * is the cautious one: maxmemory is 0 (no limit) when any primary has none, the last save is
 * the oldest of the primaries' (the data at risk), the bgsave status is `err` when any failed,
 * uptime is the shortest.
 *
 * The sampler's own connection is left out: one client per primary, and the commands it sends
 * (INFO, and CONFIG GET on servers whose INFO lacks maxclients) are subtracted from the
 * command counts.
 */
import type {Redis} from 'ioredis';
import {ActionableError} from '../errors.js';
import {masterNodes, type RedisClient} from '../redis/redis-client.js';
import {parseInfo} from '../redis/redis-health.js';

/** Commands per second. */
export type RedisOpsRate = {
	perSecond: number;
	/**
	 * `interval`: commands counted since the previous sample, the sampler's own taken out.
	 * `instantaneous`: Redis' own instantaneous_ops_per_sec, used on the first sample.
	 */
	window: 'interval' | 'instantaneous';
	/** Commands counted in the interval (null for `instantaneous`). */
	commands: number | null;
	/** Time between the readings, ms (null for `instantaneous`). */
	intervalMs: number | null;
};

/** keyspace_hits / (keyspace_hits + keyspace_misses). */
export type RedisKeyspaceHitRate = {
	/** 0–1; null when no key was ever looked up. */
	rate: number | null;
	/** `interval` since the previous sample; `cumulative` since the start (first sample, or no lookups in the interval). */
	window: 'interval' | 'cumulative';
	/** Lookups that found / missed a key in that window. */
	hits: number;
	misses: number;
};

/** The raw readings of one server the next sample needs for its rates. */
export type RedisNodeCounters = {
	/** Server clock at the reading, ms. */
	serverTimeMs: number;
	/** run_id: a different one means a restarted server, whose counters started again. */
	runId: string;
	totalCommands: number;
	keyspaceHits: number;
	keyspaceMisses: number;
	evictedKeys: number;
	/** Commands the sampler sent this server from its reading on (that INFO included). */
	samplerCommandsAfterReading: number;
	/** CONFIG GET was refused (managed services rename or forbid it): do not ask again. */
	configRefused: boolean;
};

/** One reading of a Redis deployment (a cluster: its primaries added up). */
export type RedisSample = {
	/** Server clock at the reading (a cluster: the first primary's). */
	sampledAt: Date;
	/** redis_version; primaries that differ are listed comma-separated. */
	version: string;
	/** What the server the sampler talks to is; a cluster's primaries are `master`. */
	role: 'master' | 'replica';
	uptimeSeconds: number;
	/** Primaries added up: 1 unless a cluster. */
	nodes: number;
	clients: {
		/** connected_clients without the sampler's own connection(s). */
		connected: number;
		/** maxclients; null when neither INFO nor CONFIG GET would tell. */
		max: number | null;
		/** Clients blocked in BLPOP, XREAD BLOCK, WAIT …; useful next to a queue's backlog. */
		blocked: number;
	};
	memory: {
		usedBytes: number;
		/** maxmemory; 0 means no limit. */
		maxBytes: number;
		/** maxmemory-policy (`noeviction`, `allkeys-lru` …); primaries that differ are comma-separated. */
		policy: string;
	};
	ops: RedisOpsRate;
	keyspace: RedisKeyspaceHitRate;
	evictions: {
		/** evicted_keys since the start (or CONFIG RESETSTAT). */
		total: number;
		/** Over the interval; null on the first sample. */
		perSecond: number | null;
	};
	persistence: {
		/** rdb_last_save_time: the last successful save (a fresh server reports its start). */
		lastSaveAt: Date;
		/** Writes an RDB save would still have to capture. */
		changesSinceLastSave: number;
		/** rdb_last_bgsave_status: `ok` or `err`. */
		lastBgsaveStatus: string;
		bgsaveInProgress: boolean;
	};
	/** Per primary (host:port), for the next sample's rates. */
	counters: Record<string, RedisNodeCounters>;
};

/**
 * Takes one sample through `client` (a standalone or Sentinel-managed server, or a cluster).
 * `previous` is the sample taken before through the same connection, for rates; after a
 * reconnect pass none, since the handshake's own commands would be counted as the server's work.
 */
export async function takeRedisSample(client: RedisClient, previous?: RedisSample): Promise<RedisSample> {
	const nodes = masterNodes(client);
	if (nodes.length === 0) {
		throw new ActionableError('E_REDIS_UNAVAILABLE', 'The Redis cluster has not reported its primaries yet.', {
			nextStep: 'Wait for the cluster to come up (CLUSTER INFO shows cluster_state:ok); sampling retries on its own.',
		});
	}

	const readings = await Promise.all(nodes.map(async node => readNode(node, previous)));
	return combine(readings, previous);
}

type NodeReading = {
	address: string;
	info: Record<string, string>;
	maxClients: number | null;
	counters: RedisNodeCounters;
};

async function readNode(node: Redis, previous: RedisSample | undefined): Promise<NodeReading> {
	const address = nodeAddress(node);
	// INFO first: the commands sent after it belong to the next interval (INFO does not count itself).
	const info = parseInfo(await node.info());
	let samplerCommands = 1;
	let maxClients = toNumber(info['maxclients']);
	let configRefused = previous?.counters[address]?.configRefused ?? false;
	// INFO has maxclients from Redis 7; older servers answer CONFIG GET, unless it is forbidden.
	if (maxClients === undefined && !configRefused) {
		try {
			const reply = (await node.call('CONFIG', 'GET', 'maxclients')) as unknown;
			maxClients = Array.isArray(reply) ? toNumber(String(reply[1])) : undefined;
			samplerCommands++;
		} catch {
			// Renamed or refused by an ACL: never executed, so not counted by the server either.
			configRefused = true;
		}
	}

	const serverTimeUs = toNumber(info['server_time_usec']);
	return {
		address,
		info,
		maxClients: maxClients ?? null,
		counters: {
			serverTimeMs: serverTimeUs === undefined ? Date.now() : serverTimeUs / 1000,
			runId: info['run_id'] ?? '',
			totalCommands: toNumber(info['total_commands_processed']) ?? 0,
			keyspaceHits: toNumber(info['keyspace_hits']) ?? 0,
			keyspaceMisses: toNumber(info['keyspace_misses']) ?? 0,
			evictedKeys: toNumber(info['evicted_keys']) ?? 0,
			samplerCommandsAfterReading: samplerCommands,
			configRefused,
		},
	};
}

function combine(readings: readonly NodeReading[], previous: RedisSample | undefined): RedisSample {
	const number = (reading: NodeReading, field: string): number => toNumber(reading.info[field]) ?? 0;
	const total = (field: string): number => readings.reduce((sum, reading) => sum + number(reading, field), 0);
	const distinct = (field: string): string => [...new Set(readings.map(reading => reading.info[field] ?? '?'))].join(', ');
	const first = readings[0] as NodeReading;

	// Deltas per primary, and only where the same server was read before (same run_id, counters
	// not gone down): a restarted or reset server contributes nothing rather than a negative rate.
	let commands = 0;
	let hits = 0;
	let misses = 0;
	let evicted = 0;
	let intervalMs = 0;
	let comparable = previous !== undefined;
	for (const reading of readings) {
		const before = previous?.counters[reading.address];
		const now = reading.counters;
		if (
			!before ||
			before.runId !== now.runId ||
			now.totalCommands < before.totalCommands ||
			now.keyspaceHits < before.keyspaceHits ||
			now.keyspaceMisses < before.keyspaceMisses ||
			now.evictedKeys < before.evictedKeys ||
			now.serverTimeMs <= before.serverTimeMs
		) {
			comparable = false;
			continue;
		}

		commands += Math.max(0, now.totalCommands - before.totalCommands - before.samplerCommandsAfterReading);
		hits += now.keyspaceHits - before.keyspaceHits;
		misses += now.keyspaceMisses - before.keyspaceMisses;
		evicted += now.evictedKeys - before.evictedKeys;
		intervalMs = Math.max(intervalMs, now.serverTimeMs - before.serverTimeMs);
	}

	const cumulativeHits = total('keyspace_hits');
	const cumulativeMisses = total('keyspace_misses');
	const maxClients = readings.map(reading => reading.maxClients);
	const maxMemories = readings.map(reading => number(reading, 'maxmemory'));
	return {
		sampledAt: new Date(first.counters.serverTimeMs),
		version: distinct('redis_version'),
		role: first.info['role'] === 'slave' ? 'replica' : 'master',
		uptimeSeconds: Math.min(...readings.map(reading => number(reading, 'uptime_in_seconds'))),
		nodes: readings.length,
		clients: {
			// The sampler holds one connection to each primary it reads.
			connected: Math.max(0, total('connected_clients') - readings.length),
			max: maxClients.every(value => value !== null) ? (maxClients as number[]).reduce((sum, value) => sum + value, 0) : null,
			blocked: total('blocked_clients'),
		},
		memory: {
			usedBytes: total('used_memory'),
			maxBytes: maxMemories.includes(0) ? 0 : maxMemories.reduce((sum, value) => sum + value, 0),
			policy: distinct('maxmemory_policy'),
		},
		ops: comparable
			? {perSecond: (commands * 1000) / intervalMs, window: 'interval', commands, intervalMs}
			: {perSecond: total('instantaneous_ops_per_sec'), window: 'instantaneous', commands: null, intervalMs: null},
		keyspace:
			comparable && hits + misses > 0
				? {rate: hits / (hits + misses), window: 'interval', hits, misses}
				: {
						rate: cumulativeHits + cumulativeMisses > 0 ? cumulativeHits / (cumulativeHits + cumulativeMisses) : null,
						window: 'cumulative',
						hits: cumulativeHits,
						misses: cumulativeMisses,
					},
		evictions: {total: total('evicted_keys'), perSecond: comparable ? (evicted * 1000) / intervalMs : null},
		persistence: {
			lastSaveAt: new Date(Math.min(...readings.map(reading => number(reading, 'rdb_last_save_time'))) * 1000),
			changesSinceLastSave: total('rdb_changes_since_last_save'),
			lastBgsaveStatus: readings.some(reading => reading.info['rdb_last_bgsave_status'] === 'err')
				? 'err'
				: (first.info['rdb_last_bgsave_status'] ?? 'unknown'),
			bgsaveInProgress: readings.some(reading => reading.info['rdb_bgsave_in_progress'] === '1'),
		},
		counters: Object.fromEntries(readings.map(reading => [reading.address, reading.counters])),
	};
}

function nodeAddress(node: Redis): string {
	// A Sentinel connection's options name the sentinels; the socket names the primary.
	const stream = node.stream as {remoteAddress?: string; remotePort?: number} | undefined;
	if (stream?.remoteAddress && stream.remotePort) {
		return `${stream.remoteAddress}:${stream.remotePort}`;
	}

	return `${node.options.host ?? '?'}:${node.options.port ?? '?'}`;
}

function toNumber(value: string | undefined): number | undefined {
	if (value === undefined || value === '') {
		return undefined;
	}

	const number = Number(value);
	return Number.isFinite(number) ? number : undefined;
}
