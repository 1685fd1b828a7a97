/**
 * `msdb cache stats` as scripts run it: the built CLI as its own process against a real
 * standalone server and a real cluster, with live cache instances publishing their stats. Run
 * `npm run build` first (`npm test` does).
 */
import {tmpdir} from 'node:os';
import getPort from 'get-port';
import {afterAll, beforeAll, expect, it} from 'vitest';
import {MultiLevelCache} from '../source/core/cache/multi-level-cache.js';
import type {RedisClient} from '../source/core/redis/redis-client.js';
import {describeForEachRedisTarget} from './support/redis-targets.js';
import {runMsdb} from './support/run-msdb.js';

const ENV = 'clistats';

describeForEachRedisTarget('msdb cache stats', target => {
	const clients: RedisClient[] = [];
	let orders: MultiLevelCache;
	let users: MultiLevelCache;

	beforeAll(async () => {
		await target().flush();
		const connect = () => {
			const client = target().connect();
			clients.push(client);
			return client;
		};

		orders = new MultiLevelCache({redis: connect(), subscriber: connect(), env: ENV, namespace: 'orders', stats: {publishIntervalMs: 100}});
		users = new MultiLevelCache({redis: connect(), env: ENV, namespace: 'users', stats: {publishIntervalMs: 100}});
		// Another environment on the same server: never counted here.
		const elsewhere = new MultiLevelCache({redis: connect(), env: 'elsewhere', namespace: 'orders', stats: {publishIntervalMs: 0}});
		await Promise.all([orders.ready(), users.ready(), clients[0]!.ping()]);
		for (let index = 0; index < 25; index++) {
			await orders.set(`order:${index}`, {index}, {tags: ['recent']});
			await elsewhere.set(`order:${index}`, {index});
		}

		await users.set('user:1', {name: 'Ada'});
		await orders.invalidate(['order:0', 'order:1']);
		await orders.get('order:2');
		await elsewhere.close();
		// Let both instances publish a snapshot taken after the work above.
		await new Promise(resolve => setTimeout(resolve, 300));
	});

	afterAll(async () => {
		await orders.close();
		await users.close();
		for (const client of clients) {
			client.disconnect();
		}
	});

	it('--json reports the server, the keys per namespace, the invalidation counter and the live instances', async () => {
		const run = await runMsdb(['cache', 'stats', '--json'], {cwd: tmpdir(), env: {REDIS_URL: target().url, MSDB_ENV: ENV}});
		expect(run.stderr).toBe('');
		expect(run.exitCode).toBe(0);
		const report = run.json;
		expect(report.env).toBe(ENV);
		expect(report.prefix).toBe(`ms:${ENV}:cache:`);
		expect(report.server).toMatchObject({kind: target().kind, primaries: target().kind === 'cluster' ? 3 : 1});
		expect(report.server.usedMemoryBytes).toBeGreaterThan(0);
		expect(report.server.keyspaceHits).toBeGreaterThan(0);
		expect(report.scan.complete).toBe(true);
		expect(report.namespaces.map((namespace: any) => namespace.name)).toEqual(['orders', 'users']);
		const [ordersReport, usersReport] = report.namespaces;
		// 25 entries (two of them tombstones now), one tag set, one live instance's snapshot.
		expect(ordersReport.keys).toEqual({entries: 25, leases: 0, tagSets: 1, statsSnapshots: 1, other: 0});
		// 25 sets and one invalidation of two keys, each one message.
		expect(ordersReport.sequence).toMatchObject({n: 26});
		expect(ordersReport.instances).toHaveLength(1);
		expect(ordersReport.instances[0]).toMatchObject({instanceId: orders.instanceId, namespace: 'orders', l2: {writes: 25}, invalidation: {subscribed: true}});
		expect(usersReport.keys).toEqual({entries: 1, leases: 0, tagSets: 0, statsSnapshots: 1, other: 0});
		// users publishes no invalidations: it has no subscriber, so nothing listens.
		expect(usersReport.sequence).toBeNull();
		expect(usersReport.instances[0]).toMatchObject({instanceId: users.instanceId, invalidation: {enabled: false}});
	});

	it('prints a readable summary without --json', async () => {
		const run = await runMsdb(['cache', 'stats'], {cwd: tmpdir(), env: {REDIS_URL: target().url, MSDB_ENV: ENV}});
		expect(run.exitCode).toBe(0);
		expect(run.stdout).toMatch(/NAMESPACE\s+ENTRIES\s+LEASES\s+TAGS\s+INVALIDATIONS\s+INSTANCES/);
		expect(run.stdout).toMatch(/orders\s+25\s+0\s+1\s+26\s+1/);
		expect(run.stdout).toContain(orders.instanceId);
	});
});

it('msdb cache stats exits 1 with E_REDIS_UNAVAILABLE when Redis does not answer', async () => {
	const port = await getPort();
	const run = await runMsdb(['cache', 'stats', '--json'], {cwd: tmpdir(), env: {REDIS_URL: `redis://127.0.0.1:${port}`}});
	expect(run.exitCode).toBe(1);
	expect(run.json).toMatchObject({error: {code: 'E_REDIS_UNAVAILABLE'}});
});
