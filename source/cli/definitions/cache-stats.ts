import {z} from 'zod';
import type {CacheInspection} from '../../core/cache/cache-inspection.js';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {optionMeta} from '../option-meta.js';
import {table, text, type OutputBlock} from '../output-blocks.js';
import {formatBytes} from '../progress-lines.js';

/**
 * `msdb cache stats`: what Redis knows about the multi-level cache of the `cache` role
 * (REDIS_CACHE_URL, else --redis-url, else REDIS_URL) in the MSDB_ENV environment. A CLI process
 * has no L1, so this reports the server, the cache's keys (bounded SCAN), each namespace's
 * invalidation counter and the stats snapshots live instances publish (cache-inspection.ts).
 */
export const cacheStats = defineCommand({
	path: ['cache', 'stats'],
	description: 'The cache as Redis sees it: keys per namespace, memory, hit ratio, invalidations, live instances',
	options: z.object({
		...globalOptions,
		scanLimit: z
			.number()
			.int()
			.min(1000)
			.default(200_000)
			.describe(optionMeta({description: 'Keys SCAN may walk per primary before counts become lower bounds', valueDescription: 'n', defaultValueDescription: '200000'})),
	}),
	async run({options}, context) {
		const [{withRedisRole}, {inspectCache}, {keyEnvironment}] = await Promise.all([
			import('../../core/redis/with-redis-role.js'),
			import('../../core/cache/cache-inspection.js'),
			import('../../core/redis/key-names.js'),
		]);
		const env = keyEnvironment(context.env);
		const {inspection, endpoint} = await withRedisRole(
			{redisUrl: options.redisUrl, env: context.env, role: 'cache', purpose: 'the cache'},
			async (client, endpoint) => ({inspection: await inspectCache({client, env, scanLimit: options.scanLimit}), endpoint}),
		);
		return {exitCode: 0, json: {redis: endpoint.display, ...inspection}, human: describe(inspection, endpoint.display)};
	},
});

function describe(inspection: CacheInspection, where: string): OutputBlock[] {
	const {server, scan, namespaces} = inspection;
	const blocks: OutputBlock[] = [
		text(`Redis ${server.version ?? '?'} at ${where} (${server.kind}, ${server.primaries} primar${server.primaries === 1 ? 'y' : 'ies'}) · env ${inspection.env}`),
		text(
			`memory ${formatBytes(server.usedMemoryBytes)} of ${server.maxmemoryBytes === 0 ? 'no limit' : formatBytes(server.maxmemoryBytes)} (policy ${server.maxmemoryPolicy ?? '?'}) · ` +
				`server-wide hit ratio ${percent(server.hitRatio)} (${server.keyspaceHits} hits, ${server.keyspaceMisses} misses) · evicted ${server.evictedKeys} · expired ${server.expiredKeys}`,
		),
	];
	if (server.maxmemoryBytes === 0 || server.maxmemoryPolicy === 'noeviction') {
		blocks.push(text('! this server does not evict: a full cache makes writes fail (set maxmemory and an allkeys-* policy)', 'warning'));
	}

	if (namespaces.length === 0) {
		blocks.push(text(`No cache keys under ${inspection.prefix}`, 'muted'));
	} else {
		blocks.push(
			table(
				['NAMESPACE', 'ENTRIES', 'LEASES', 'TAGS', 'INVALIDATIONS', 'INSTANCES'],
				namespaces.map(namespace => [
					namespace.name,
					String(namespace.keys.entries),
					String(namespace.keys.leases),
					String(namespace.keys.tagSets),
					namespace.sequence ? String(namespace.sequence.n) : '0',
					String(namespace.instances.length),
				]),
			),
		);
	}

	const instances = namespaces.flatMap(namespace => namespace.instances);
	if (instances.length > 0) {
		blocks.push(
			table(
				['INSTANCE', 'NAMESPACE', 'L1 HIT', 'L1 ENTRIES', 'L2 HIT/MISS', 'L2 P99', 'BREAKER', 'LOADS', 'SUBSCRIBED', 'AS OF'],
				instances.map(stats => [
					stats.instanceId,
					stats.namespace,
					percent(stats.l1.hitRatio),
					String(stats.l1.entries),
					`${stats.l2.hits}/${stats.l2.misses}`,
					stats.l2.latency.p99Ms === undefined || stats.l2.latency.p99Ms === null ? '-' : `≤${stats.l2.latency.p99Ms} ms`,
					stats.l2.breaker.state,
					String(stats.l3.loads),
					stats.invalidation.enabled ? (stats.invalidation.subscribed ? 'yes' : 'NO') : 'off',
					stats.takenAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
				]),
				instances.map(stats => (stats.l2.breaker.state !== 'closed' || (stats.invalidation.enabled && !stats.invalidation.subscribed) ? 'warning' : undefined)),
			),
		);
	} else {
		blocks.push(text('No live instance published stats (instances publish every stats.publishIntervalMs; the snapshot expires after three intervals).', 'muted'));
	}

	blocks.push(
		text(
			`${scan.keysCounted} cache keys counted${scan.complete ? '' : ` (scan stopped at --scan-limit ${scan.limitPerPrimary} per primary: counts are lower bounds)`}`,
			scan.complete ? 'muted' : 'warning',
		),
	);
	return blocks;
}

function percent(ratio: number | null): string {
	return ratio === null ? '-' : `${(ratio * 100).toFixed(1)}%`;
}
