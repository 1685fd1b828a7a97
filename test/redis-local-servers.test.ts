/** The private Redis deployments the tests start: a restartable server, a cluster, a sentinel. */
import {existsSync} from 'node:fs';
import {readdir} from 'node:fs/promises';
import net from 'node:net';
import getPort from 'get-port';
import {Redis} from 'ioredis';
import {describe, expect, it} from 'vitest';
import {startLocalRedis, startLocalRedisCluster, startLocalRedisSentinel} from '../source/core/provision/index.js';
import {parseInfo} from '../source/core/redis/redis-health.js';
import {startRestartableRedis} from './support/restartable-redis.js';

async function withDirectClient<T>(url: string, work: (client: Redis) => Promise<T>): Promise<T> {
	const client = new Redis(url, {lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false});
	client.on('error', () => {});
	await client.connect();
	try {
		return await work(client);
	} finally {
		client.disconnect();
	}
}

async function portIsClosed(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const socket = net.connect({host: '127.0.0.1', port});
		socket.once('connect', () => {
			socket.destroy();
			resolve(false);
		});
		socket.once('error', () => resolve(true));
	});
}

function portOf(url: string): number {
	return Number(new URL(url).port);
}

describe('startLocalRedis: kill and restart', () => {
	it('kill() is a crash (data gone, port closed), restart() brings an empty server back on the same port', async () => {
		const redis = await startRestartableRedis();
		try {
			expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
			await withDirectClient(redis.url, async client => client.set('survives?', 'no'));
			await redis.kill();
			expect(await portIsClosed(redis.port)).toBe(true);
			await redis.restart();
			expect(await withDirectClient(redis.url, async client => client.dbsize())).toBe(0);
			// restart() on a running server replaces it too.
			await redis.restart();
			expect(await withDirectClient(redis.url, async client => client.ping())).toBe('PONG');
		} finally {
			await redis.stop();
		}

		expect(await portIsClosed(redis.port)).toBe(true);
		await redis.stop(); // idempotent
		await expect(redis.restart()).rejects.toThrow(/was stopped/);
	});

	it('honours a fixed port, keeps its directory empty, and removes it on stop()', async () => {
		const port = await getPort();
		const redis = await startLocalRedis({port});
		try {
			expect(redis.port).toBe(port);
			expect(redis.url).toBe(`redis://127.0.0.1:${port}`);
			await redis.kill();
			await redis.restart();
			expect(await readdir(redis.dataDirectory)).toEqual([]);
		} finally {
			await redis.stop();
		}

		expect(existsSync(redis.dataDirectory)).toBe(false);
	});
});

describe('startLocalRedisCluster', () => {
	it('forms masters and replicas, each node a separate process in its own directory, and stop() removes them', async () => {
		const cluster = await startLocalRedisCluster({masters: 3, replicasPerMaster: 1});
		const ports = cluster.nodes.map(portOf);
		try {
			expect(cluster.nodes).toHaveLength(6);
			expect(cluster.url).toBe(`redis+cluster://${ports.map(port => `127.0.0.1:${port}`).join(',')}`);
			const nodes = await Promise.all(
				cluster.nodes.map(async url =>
					withDirectClient(url, async client => ({
						cluster: parseInfo(String(await client.call('CLUSTER', 'INFO'))),
						replication: parseInfo(await client.info('replication')),
						dir: ((await client.config('GET', 'dir')) as string[])[1],
					})),
				),
			);
			for (const node of nodes) {
				expect(node.cluster).toMatchObject({cluster_state: 'ok', cluster_slots_assigned: '16384', cluster_known_nodes: '6', cluster_size: '3'});
			}

			expect(nodes.slice(0, 3).map(node => node.replication['role'])).toEqual(['master', 'master', 'master']);
			expect(nodes.slice(3).map(node => node.replication['role'])).toEqual(['slave', 'slave', 'slave']);
			expect(nodes.slice(3).map(node => node.replication['master_link_status'])).toEqual(['up', 'up', 'up']);
			expect(new Set(nodes.map(node => node.dir)).size).toBe(6);
		} finally {
			await cluster.stop();
		}

		for (const port of ports) {
			expect(await portIsClosed(port)).toBe(true);
		}
	});
});

describe('startLocalRedisSentinel', () => {
	it('starts a primary, a synced replica and a sentinel that names the primary', async () => {
		const deployment = await startLocalRedisSentinel({masterName: 'test-primary'});
		try {
			expect(deployment.url).toBe(`redis+sentinel://127.0.0.1:${portOf(deployment.sentinelUrl)}/test-primary`);
			const address = await withDirectClient(deployment.sentinelUrl, async client => client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'test-primary'));
			expect(address).toEqual(['127.0.0.1', String(portOf(deployment.primaryUrl))]);
			const replication = await withDirectClient(deployment.replicaUrl, async client => parseInfo(await client.info('replication')));
			expect(replication).toMatchObject({role: 'slave', master_port: String(portOf(deployment.primaryUrl)), master_link_status: 'up'});
		} finally {
			await deployment.stop();
		}

		for (const url of [deployment.primaryUrl, deployment.replicaUrl, deployment.sentinelUrl]) {
			expect(await portIsClosed(portOf(url))).toBe(true);
		}
	});
});
