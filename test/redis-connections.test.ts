import getPort from 'get-port';
import {Redis} from 'ioredis';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {startLocalRedisCluster, startLocalRedisSentinel, type LocalRedisCluster, type LocalRedisSentinel} from '../source/core/provision/index.js';
import {isCluster} from '../source/core/redis/redis-client.js';
import {REDIS_ROLES, resolveRedisConfig} from '../source/core/redis/redis-config.js';
import {RedisConnections} from '../source/core/redis/redis-connections.js';
import {parseInfo} from '../source/core/redis/redis-health.js';
import {useTestRedis} from './support/test-redis.js';

async function withDirectClient<T>(url: string, work: (client: Redis) => Promise<T>): Promise<T> {
	const client = new Redis(url, {lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null});
	client.on('error', () => {});
	await client.connect();
	try {
		return await work(client);
	} finally {
		client.disconnect();
	}
}

describe('RedisConnections on a standalone server', () => {
	const redis = useTestRedis();
	let connections: RedisConnections;

	beforeAll(() => {
		connections = new RedisConnections(resolveRedisConfig({redisUrl: redis.url}, {}));
	});

	afterAll(async () => {
		await connections?.close();
	});

	it('gives each role its own lazily created connection, named msdb:<role> on the server', async () => {
		const cache = connections.client('cache');
		expect(connections.client('cache')).toBe(cache);
		expect(connections.client('sessions')).not.toBe(cache);
		for (const role of REDIS_ROLES) {
			await connections.client(role).ping();
		}

		await connections.subscriber().subscribe('msdb-test-channel');
		const clientList = await withDirectClient(redis.url, async client => String(await client.call('CLIENT', 'LIST')));
		const names = [...clientList.matchAll(/ name=(\S*)/g)].map(match => match[1]);
		expect(names).toEqual(expect.arrayContaining(['msdb:cache', 'msdb:sessions', 'msdb:queues', 'msdb:pubsub', 'msdb:pubsub:subscriber']));
		await connections.subscriber().unsubscribe('msdb-test-channel');
	});

	it('subscriber() is a separate connection, so publishing and other commands keep working', async () => {
		const subscriber = connections.subscriber('pubsub');
		expect(subscriber).not.toBe(connections.client('pubsub'));
		const received = new Promise<string>(resolve => {
			subscriber.once('message', (_channel: string, message: string) => resolve(message));
		});
		await subscriber.subscribe('msdb-test-events');
		await connections.client('pubsub').publish('msdb-test-events', 'hello');
		expect(await received).toBe('hello');
		// The role's regular connection is not in subscriber mode.
		await connections.client('pubsub').set('still-usable', '1');
		await subscriber.unsubscribe('msdb-test-events');
	});

	it('reports health per role: latency, version, role, memory and clients against their limits', async () => {
		await withDirectClient(redis.url, async client => client.config('SET', 'maxmemory', String(64 * 1024 * 1024)));
		try {
			const report = await connections.health();
			expect(report.map(health => health.role)).toEqual([...REDIS_ROLES]);
			const serverInfo = await withDirectClient(redis.url, async client => parseInfo(await client.info()));
			for (const health of report) {
				expect(health).toMatchObject({
					endpoint: redis.url.replace(/\/$/, ''),
					mode: 'standalone',
					reachable: true,
					serverVersion: serverInfo['redis_version'],
					serverRole: 'master',
					maxMemoryBytes: 64 * 1024 * 1024,
					maxClients: Number(serverInfo['maxclients']),
				});
				expect(health.latencyMs).toBeGreaterThanOrEqual(0);
				expect(health.latencyMs).toBeLessThan(1000);
				expect(health.usedMemoryBytes).toBeGreaterThan(100_000);
				expect(health.connectedClients).toBeGreaterThanOrEqual(REDIS_ROLES.length);
				expect(health.error).toBeUndefined();
			}
		} finally {
			await withDirectClient(redis.url, async client => client.config('SET', 'maxmemory', '0'));
		}
	});

	it('close() ends every connection; the object cannot be used afterwards', async () => {
		const own = new RedisConnections(resolveRedisConfig({redisUrl: redis.url}, {}), {connectionName: 'close test'});
		await own.client('cache').ping();
		const client = own.client('cache');
		await own.close();
		expect(client.status).toBe('end');
		expect(() => own.client('cache')).toThrow(expect.objectContaining({code: 'E_REDIS_UNAVAILABLE'}));
		await own.close(); // idempotent
	});
});

describe('health of an unreachable Redis', () => {
	it('does not throw, answers within its deadline, and masks the password', async () => {
		const deadPort = await getPort();
		const connections = new RedisConnections(
			resolveRedisConfig({}, {REDIS_URL: `redis://:hunter2-secret@127.0.0.1:${deadPort}`, REDIS_CACHE_URL: `redis+cluster://:hunter2-secret@127.0.0.1:${deadPort}`}),
			{commandTimeoutMs: 200, connectTimeoutMs: 200},
		);
		try {
			const started = performance.now();
			const report = await connections.health({timeoutMs: 500});
			expect(performance.now() - started).toBeLessThan(800);
			for (const health of report) {
				expect(health.reachable).toBe(false);
				expect(health.error).toEqual(expect.any(String));
				expect(JSON.stringify(health)).not.toContain('hunter2-secret');
				expect(health.endpoint).toContain(':***@');
			}

			expect(report.find(health => health.role === 'cache')?.mode).toBe('cluster');
			expect(report.find(health => health.role === 'sessions')?.error).toMatch(/ECONNREFUSED|timed out|max retries|no answer/i);
		} finally {
			await connections.close();
		}
	});
});

describe('RedisConnections on a Redis Cluster', () => {
	let cluster: LocalRedisCluster;
	let connections: RedisConnections;

	beforeAll(async () => {
		cluster = await startLocalRedisCluster({masters: 3});
		connections = new RedisConnections(resolveRedisConfig({}, {REDIS_CACHE_URL: cluster.url}));
	});

	afterAll(async () => {
		await connections?.close();
		await cluster?.stop();
	});

	it('connects the role through the seed nodes and reads and writes across all masters', async () => {
		const client = connections.client('cache');
		expect(isCluster(client)).toBe(true);
		for (let index = 0; index < 20; index++) {
			await client.set(`spread:${index}`, String(index));
		}

		const counts = await Promise.all(cluster.nodes.slice(0, 3).map(async url => withDirectClient(url, async node => node.dbsize())));
		expect(counts.reduce((total, count) => total + count, 0)).toBe(20);
		// The keys really are spread: every master holds some.
		expect(counts.every(count => count > 0)).toBe(true);
		const clientList = await withDirectClient(cluster.nodes[0] ?? '', async node => String(await node.call('CLIENT', 'LIST')));
		expect(clientList).toContain('name=msdb:cache');
	});

	it('reports health summed over the master nodes', async () => {
		const [health] = await connections.health({roles: ['cache']});
		expect(health).toMatchObject({role: 'cache', mode: 'cluster', reachable: true, serverRole: 'master', clusterState: 'ok', maxMemoryBytes: 0});
		expect(health?.nodes).toHaveLength(3);
		const nodes = health?.nodes ?? [];
		expect(new Set(nodes.map(node => node.address)).size).toBe(3);
		expect(health?.usedMemoryBytes).toBe(nodes.reduce((total, node) => total + (node.usedMemoryBytes ?? 0), 0));
		expect(health?.connectedClients).toBe(nodes.reduce((total, node) => total + (node.connectedClients ?? 0), 0));
		expect(health?.maxClients).toBe(nodes.reduce((total, node) => total + (node.maxClients ?? 0), 0));
		expect(health?.latencyMs).toBe(Math.max(...nodes.map(node => node.latencyMs)));
		expect(health?.serverVersion).toMatch(/^\d+\.\d+\.\d+$/);
	});
});

describe('RedisConnections through Sentinel', () => {
	let sentinel: LocalRedisSentinel;
	let connections: RedisConnections;

	beforeAll(async () => {
		sentinel = await startLocalRedisSentinel();
		connections = new RedisConnections(resolveRedisConfig({}, {REDIS_SESSIONS_URL: `${sentinel.url}/2`}));
	});

	afterAll(async () => {
		await connections?.close();
		await sentinel?.stop();
	});

	it('asks the sentinel for the primary, then reads and writes there', async () => {
		const client = connections.client('sessions');
		await client.set('through-sentinel', 'yes');
		expect(await client.get('through-sentinel')).toBe('yes');
		// The write landed on the primary, in the database the URL selected.
		expect(await withDirectClient(`${sentinel.primaryUrl}/2`, async primary => primary.get('through-sentinel'))).toBe('yes');
		expect(await withDirectClient(sentinel.primaryUrl, async primary => primary.get('through-sentinel'))).toBeNull();
	});

	it('reports health in sentinel mode, for the primary', async () => {
		const [health] = await connections.health({roles: ['sessions']});
		expect(health).toMatchObject({role: 'sessions', mode: 'sentinel', reachable: true, serverRole: 'master', endpoint: `${sentinel.url}/2`});
		expect(health?.connectedClients).toBeGreaterThanOrEqual(2); // us and the replica
	});
});
