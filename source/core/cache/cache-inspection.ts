import type {Redis} from 'ioredis';
import {isCluster, masterNodes, type RedisClient} from '../redis/redis-client.js';
import {CacheKeyspace} from './cache-keyspace.js';
import type {CacheStats} from './cache-stats.js';
import {parseInfo} from '../redis/redis-health.js';

/**
 * What `msdb cache stats` can know from Redis alone. A CLI process has no L1 of its own, so it
 * reports what the server and the running cache instances left there:
 *
 * - the server (per primary, summed on a cluster): memory, maxmemory and its eviction policy
 *   (a cache server should evict), keyspace hits/misses, evicted and expired keys. These are
 *   server-wide figures: every role sharing the server counts in them.
 * - the cache's keys, counted with SCAN MATCH `ms:<env>:cache:*` per primary, by namespace and
 *   kind. SCAN walks the whole keyspace, so it is bounded (`scanLimit` keys examined per
 *   primary, about); `complete: false` says the counts are lower bounds.
 * - per namespace, the invalidation sequence counter (how many invalidations were ever
 *   published, and its epoch), and the stats snapshots live instances publish every few seconds
 *   (multi-level-cache.ts, `stats.publishIntervalMs`); a snapshot expires three intervals after
 *   its instance stops publishing, so the list is the instances alive now.
 */

export type CacheInspectionOptions = {
	client: RedisClient;
	/** The `<env>` of key names (MSDB_ENV). */
	env: string;
	/** Keys SCAN may walk per primary before stopping (default 200,000). */
	scanLimit?: number;
};

export type NamespaceInspection = {
	name: string;
	keys: {
		/** L2 entries: values and short-lived invalidation tombstones. */
		entries: number;
		leases: number;
		tagSets: number;
		statsSnapshots: number;
		other: number;
	};
	/** The invalidation counter; null when nothing was ever published (or Redis lost it). */
	sequence: {n: number; epoch: string} | null;
	/** Stats snapshots of the instances that published one recently. */
	instances: CacheStats[];
};

export type CacheInspection = {
	env: string;
	/** `ms:<env>:cache:` */
	prefix: string;
	server: {
		kind: 'standalone' | 'cluster';
		primaries: number;
		version: string | null;
		usedMemoryBytes: number;
		/** 0 = no limit (then nothing is evicted and the server can run out of memory). */
		maxmemoryBytes: number;
		maxmemoryPolicy: string | null;
		keyspaceHits: number;
		keyspaceMisses: number;
		/** hits / (hits + misses), server-wide; null before any read. */
		hitRatio: number | null;
		evictedKeys: number;
		expiredKeys: number;
		/** Every key on the primaries (DBSIZE), not only the cache's. */
		totalKeys: number;
	};
	scan: {
		/** Cache keys counted. */
		keysCounted: number;
		/** Keys SCAN walked (cache or not), summed over primaries. */
		keysWalked: number;
		/** False when a primary's scan stopped at scanLimit: counts are lower bounds. */
		complete: boolean;
		limitPerPrimary: number;
	};
	namespaces: NamespaceInspection[];
};

const SCAN_COUNT = 1000;
const KINDS: Record<string, keyof NamespaceInspection['keys']> = {v: 'entries', lease: 'leases', tag: 'tagSets', stats: 'statsSnapshots'};

/** Reads what Redis knows about the cache of environment `env` (see the file comment). */
export async function inspectCache(options: CacheInspectionOptions): Promise<CacheInspection> {
	const {client, env} = options;
	const scanLimit = options.scanLimit ?? 200_000;
	const prefix = CacheKeyspace.environmentPrefix(env);
	// A cluster knows its primaries only once connected; PING also fails fast on a dead server.
	await client.ping();
	const primaries = masterNodes(client);
	const infos = await Promise.all(primaries.map(async node => parseInfo(await node.info())));
	const sizes = await Promise.all(primaries.map(async node => node.dbsize()));

	const namespaces = new Map<string, NamespaceInspection>();
	const statsKeys: Array<{namespace: string; key: string}> = [];
	let keysCounted = 0;
	let keysWalked = 0;
	let complete = true;
	for (const [index, node] of primaries.entries()) {
		const scanned = await scanPrimary(node, `${prefix}*`, scanLimit, Math.max(1, sizes[index] ?? 0));
		keysWalked += scanned.walked;
		complete &&= scanned.complete;
		for (const key of scanned.keys) {
			keysCounted++;
			const rest = key.slice(prefix.length);
			const separator = rest.indexOf(':');
			const name = separator === -1 ? rest : rest.slice(0, separator);
			const namespace = namespaceEntry(namespaces, name);
			const kindAndId = separator === -1 ? '' : rest.slice(separator + 1);
			const kindEnd = kindAndId.indexOf(':');
			const kind = KINDS[kindEnd === -1 ? kindAndId : kindAndId.slice(0, kindEnd)];
			if (kindAndId === 'seq') {
				continue;
			}

			namespace.keys[kind ?? 'other']++;
			if (kind === 'statsSnapshots') {
				statsKeys.push({namespace: name, key});
			}
		}
	}

	// Namespaces that have a counter but no keys left still matter: their counter says invalidations happened.
	for (const namespace of namespaces.values()) {
		const keyspace = new CacheKeyspace(env, namespace.name);
		const [epoch, n] = await client.hmget(keyspace.sequenceKey, 'epoch', 'n');
		namespace.sequence = epoch ? {epoch, n: Number(n ?? 0)} : null;
	}

	for (const {namespace, key} of statsKeys) {
		const text = await client.get(key);
		if (text === null) {
			continue;
		}

		try {
			namespaces.get(namespace)?.instances.push(JSON.parse(text) as CacheStats);
		} catch {
			// A snapshot cut short or written by something else: not worth failing the report.
		}
	}

	const sum = (field: string) => infos.reduce((total, info) => total + Number(info[field] ?? 0), 0);
	const hits = sum('keyspace_hits');
	const misses = sum('keyspace_misses');
	return {
		env,
		prefix,
		server: {
			kind: isCluster(client) ? 'cluster' : 'standalone',
			primaries: primaries.length,
			version: infos[0]?.['redis_version'] ?? null,
			usedMemoryBytes: sum('used_memory'),
			maxmemoryBytes: sum('maxmemory'),
			maxmemoryPolicy: infos[0]?.['maxmemory_policy'] ?? null,
			keyspaceHits: hits,
			keyspaceMisses: misses,
			hitRatio: hits + misses === 0 ? null : hits / (hits + misses),
			evictedKeys: sum('evicted_keys'),
			expiredKeys: sum('expired_keys'),
			totalKeys: sizes.reduce((total, size) => total + size, 0),
		},
		scan: {keysCounted, keysWalked, complete, limitPerPrimary: scanLimit},
		namespaces: [...namespaces.values()].sort((a, b) => a.name.localeCompare(b.name)),
	};
}

/**
 * SCANs one primary for `match`, stopping once about `limit` keys were walked. SCAN's COUNT is
 * roughly how many keys one call walks (MATCH filters after walking), so the walk is bounded by
 * calls × COUNT; a finished walk covered all `size` keys.
 */
async function scanPrimary(node: Redis, match: string, limit: number, size: number): Promise<{keys: string[]; walked: number; complete: boolean}> {
	const keys: string[] = [];
	let cursor = '0';
	let calls = 0;
	do {
		const [next, page] = await node.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
		cursor = next;
		calls++;
		keys.push(...page);
		if (cursor !== '0' && calls * SCAN_COUNT >= limit) {
			return {keys, walked: Math.min(size, calls * SCAN_COUNT), complete: false};
		}
	} while (cursor !== '0');

	return {keys, walked: size, complete: true};
}

function namespaceEntry(namespaces: Map<string, NamespaceInspection>, name: string): NamespaceInspection {
	let entry = namespaces.get(name);
	if (!entry) {
		entry = {name, keys: {entries: 0, leases: 0, tagSets: 0, statsSnapshots: 0, other: 0}, sequence: null, instances: []};
		namespaces.set(name, entry);
	}

	return entry;
}

