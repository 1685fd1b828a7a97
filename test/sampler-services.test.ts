/**
 * The PostgreSQL and Redis samples against the real servers: the numbers must match what the
 * test does. The PostgreSQL server is shared with test files running in parallel, so every
 * PostgreSQL assertion picks out the test's own sessions by a unique application_name; the Redis
 * server is private to this file, so its server-wide counts are exact.
 */
import {randomBytes} from 'node:crypto';
import getPort from 'get-port';
import {Redis} from 'ioredis';
import pg from 'pg';
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest';
import {resolveDatabaseConfig} from '../source/core/config/database-config.js';
import {connectDatabase} from '../source/core/database/connect.js';
import {createRedisClient} from '../source/core/redis/create-redis-client.js';
import type {RedisClient} from '../source/core/redis/redis-client.js';
import {resolveRedisConfig, type RedisEndpoint} from '../source/core/redis/redis-config.js';
import {
	PostgresSampler,
	RedisSampler,
	ServerSampler,
	takePostgresSample,
	takeRedisSample,
	type PostgresSample,
	type RedisSample,
	type Sampler,
	type ServerSnapshot,
} from '../source/core/sampler/index.js';
import {useTestDatabase} from './support/test-database.js';
import {useTestRedis} from './support/test-redis.js';

const unique = (label: string): string => `msdb-test-${label}-${randomBytes(4).toString('hex')}`;
const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms));

/** The next sample the sampler emits; rejects on an error event. */
async function nextSample<T>(sampler: Sampler<T>): Promise<T> {
	return new Promise<T>((resolve, reject) => {
		const unsubscribe = sampler.subscribe(event => {
			unsubscribe();
			if (event.type === 'sample') {
				resolve(event.sample);
			} else {
				reject(event.error);
			}
		});
	});
}

/** A sample whose poll began after this call (the one after the next), so it sees what the test just did. */
async function freshSample<T>(sampler: Sampler<T>): Promise<T> {
	await nextSample(sampler);
	return nextSample(sampler);
}

async function openClients(url: string, applicationName: string, count: number): Promise<pg.Client[]> {
	return Promise.all(
		Array.from({length: count}, async () => {
			const client = new pg.Client({connectionString: url, application_name: applicationName});
			client.on('error', () => {});
			await client.connect();
			return client;
		}),
	);
}

const application = (sample: PostgresSample, name: string) => sample.applications.find(entry => entry.applicationName === name);

describe('PostgreSQL sample', () => {
	const database = useTestDatabase('sampler');
	let sampler: PostgresSampler;
	let admin: pg.Client;

	beforeAll(async () => {
		sampler = new PostgresSampler({database: resolveDatabaseConfig(database.url, {}), intervalMs: 20});
		sampler.start();
		admin = new pg.Client({connectionString: database.url});
		await admin.connect();
		await admin.query('CREATE TABLE counters (id int PRIMARY KEY, value int NOT NULL); INSERT INTO counters VALUES (1, 0)');
	});

	afterAll(async () => {
		await sampler?.stop();
		await admin?.end();
	});

	it('counts 10 new idle connections as +10 idle for their application_name, and forgets them once closed', async () => {
		const name = unique('idle');
		const before = await freshSample(sampler);
		expect(application(before, name)).toBeUndefined();
		const clients = await openClients(database.url, name, 10);
		try {
			const after = await freshSample(sampler);
			expect(application(after, name)).toMatchObject({idle: 10, active: 0, idleInTransaction: 0, total: 10, waitingOnLocks: 0});
			expect(after.connections.idle).toBeGreaterThanOrEqual(10);
			expect(after.connections.total).toBe(after.applications.reduce((sum, entry) => sum + entry.total, 0));
		} finally {
			await Promise.all(clients.map(async client => client.end()));
		}

		// A closed session can linger for a moment in pg_stat_activity; wait for the server to let go.
		for (let attempt = 0; attempt < 200; attempt++) {
			if (!application(await freshSample(sampler), name)) {
				return;
			}

			await sleep(10);
		}

		throw new Error('the closed connections were still reported');
	});

	it('reports a session blocked by a lock as exactly one waiting session, with the blocker', async () => {
		const lockerName = unique('locker');
		const waiterName = unique('waiter');
		const [locker] = await openClients(database.url, lockerName, 1);
		const [waiter] = await openClients(database.url, waiterName, 1);
		if (!locker || !waiter) {
			throw new Error('no clients');
		}

		try {
			await locker.query('BEGIN');
			await locker.query('UPDATE counters SET value = value + 1 WHERE id = 1');
			// Literals that look like credentials: the query text shown must mask them.
			const blocked = waiter.query(
				"UPDATE counters SET value = value + 10 WHERE id = 1 AND 'postgres://app:hunter2secret@db/x' <> 'password=hunter2secret'",
			);
			const waiterPid = (waiter as unknown as {processID: number}).processID;
			const lockerPid = (locker as unknown as {processID: number}).processID;
			await untilWaiting(admin, waiterPid);

			const sample = await freshSample(sampler);
			expect(application(sample, waiterName)).toMatchObject({active: 1, total: 1, waitingOnLocks: 1});
			expect(application(sample, lockerName)).toMatchObject({idleInTransaction: 1, total: 1, waitingOnLocks: 0});
			expect(sample.lockWaits.count).toBeGreaterThanOrEqual(1);
			expect(sample.connections.waitingOnLocks).toBe(sample.lockWaits.count);
			const ours = sample.lockWaits.sessions.filter(session => session.applicationName === waiterName);
			expect(ours).toEqual([
				expect.objectContaining({pid: waiterPid, blockedBy: [lockerPid], waitEvent: 'transactionid', database: database.name}),
			]);
			expect(ours[0]?.query).toMatch(/^UPDATE counters SET value = value \+ 10 WHERE id = 1 AND 'postgres:\/\/app:\*\*\*@db\/x' <> 'password=\*\*\*/);
			expect(ours[0]?.query).not.toContain('hunter2secret');
			expect(sample.longestQuery).not.toBeNull();
			expect(sample.longestQuery?.pid).not.toBe(sample.samplerPid);

			await locker.query('ROLLBACK');
			await blocked;
		} finally {
			await Promise.all([locker.end(), waiter.end()]);
		}
	});

	it('derives commits per second from the counters between two samples', async () => {
		const own = await connectDatabase(resolveDatabaseConfig(database.url, {}), {applicationName: 'msdb:sampler'});
		const [writer] = await openClients(database.url, unique('writer'), 1);
		try {
			const first = await takePostgresSample(own);
			expect(first.transactions).toBeNull();
			expect(first.bufferCache.window).toBe('cumulative');
			for (let index = 0; index < 50; index++) {
				await writer?.query('UPDATE counters SET value = value + 1 WHERE id = 1');
			}

			await writer?.query('BEGIN; UPDATE counters SET value = 0 WHERE id = 1; ROLLBACK');
			// Backends publish their counters at most once a second; ask for it now (PostgreSQL 15+).
			await writer?.query('SELECT pg_stat_force_next_flush()');
			const second = await takePostgresSample(own, first);
			expect(second.transactions).not.toBeNull();
			const {commits, rollbacks, commitsPerSecond, rollbacksPerSecond, intervalMs} = second.transactions!;
			expect(commits).toBeGreaterThanOrEqual(50);
			expect(rollbacks).toBeGreaterThanOrEqual(1);
			expect(commitsPerSecond).toBeGreaterThan(0);
			expect(commitsPerSecond).toBeCloseTo((commits * 1000) / intervalMs, 6);
			expect(rollbacksPerSecond).toBeGreaterThan(0);
			expect(second.bufferCache.ratio).toBeGreaterThan(0);
			expect(second.bufferCache.ratio).toBeLessThanOrEqual(1);
		} finally {
			await Promise.all([own.end(), writer?.end()]);
		}
	});

	it("leaves its own session out, and reports the server's limits and replication", async () => {
		const ownName = unique('own-sampler');
		const own = await connectDatabase(resolveDatabaseConfig(database.url, {}), {applicationName: ownName});
		try {
			// Make the sampler's session busy enough to be counted if it were not excluded.
			await own.query('BEGIN');
			const sample = await takePostgresSample(own);
			await own.query('ROLLBACK');
			expect(sample.samplerPid).toBe((own as unknown as {processID: number}).processID);
			expect(application(sample, ownName)).toBeUndefined();
			expect(sample.lockWaits.sessions.map(session => session.pid)).not.toContain(sample.samplerPid);

			const settings = await admin.query<{max: string; reserved: string}>(
				"SELECT current_setting('max_connections') AS max, current_setting('superuser_reserved_connections') AS reserved",
			);
			expect(sample.maxConnections).toBe(Number(settings.rows[0]?.max));
			expect(sample.reservedConnections).toBe(Number(settings.rows[0]?.reserved));
			expect(sample.serverVersion).toMatch(/^\d+/);
			expect(sample.replication).toEqual({inRecovery: false, replicas: [], replayLagMs: null, replayLagBytes: null});
		} finally {
			await own.end();
		}

		// The PostgresSampler's own connection is tagged msdb:sampler and is the pid it leaves out.
		const sample = await freshSample(sampler);
		const tagged = await admin.query<{application_name: string}>('SELECT application_name FROM pg_stat_activity WHERE pid = $1', [
			sample.samplerPid,
		]);
		expect(tagged.rows[0]?.application_name).toBe('msdb:sampler');
	});
});

async function untilWaiting(admin: pg.Client, pid: number): Promise<void> {
	for (let attempt = 0; attempt < 500; attempt++) {
		const result = await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", [pid]);
		if (result.rowCount === 1) {
			return;
		}

		await sleep(10);
	}

	throw new Error(`session ${pid} never waited on the lock`);
}

describe.skipIf(inject('redisSource') !== 'local')('Redis sample (a private server)', () => {
	const redis = useTestRedis();
	let endpoint: RedisEndpoint;
	let own: RedisClient;
	let control: Redis;

	beforeAll(async () => {
		endpoint = resolveRedisConfig({redisUrl: redis.url}, {}).endpoints.cache;
		own = createRedisClient(endpoint, {connectionName: 'msdb:sampler'}).client;
		control = new Redis(redis.url, {lazyConnect: true});
		await control.connect();
		await own.ping();
	});

	afterAll(async () => {
		own?.disconnect();
		control?.disconnect();
	});

	/** Clients CLIENT LIST shows, minus the sampler's. */
	async function clientsButSampler(): Promise<number> {
		const list = String(await control.call('CLIENT', 'LIST'));
		return list.split('\n').filter(line => line.trim() !== '' && !line.includes(' name=msdb:sampler ')).length;
	}

	it('counts 5 more clients as +5, leaving its own connection out', async () => {
		const first = await takeRedisSample(own);
		expect(first.clients.connected).toBe(await clientsButSampler());
		const extra = Array.from({length: 5}, () => new Redis(redis.url, {lazyConnect: true}));
		try {
			await Promise.all(extra.map(async client => client.connect()));
			const second = await takeRedisSample(own, first);
			expect(second.clients.connected - first.clients.connected).toBe(5);
			expect(second.clients.connected).toBe(await clientsButSampler());
			const [, maxClients] = (await control.call('CONFIG', 'GET', 'maxclients')) as [string, string];
			expect(second.clients.max).toBe(Number(maxClients));
		} finally {
			for (const client of extra) {
				client.disconnect();
			}
		}
	});

	it("counts the commands run between two samples, not the sampler's own", async () => {
		const first = await takeRedisSample(own);
		expect(first.ops.window).toBe('instantaneous');
		const pipeline = control.pipeline();
		for (let index = 0; index < 1000; index++) {
			pipeline.set(`ops:${index}`, 'x');
		}

		await pipeline.exec();
		const second = await takeRedisSample(own, first);
		expect(second.ops).toMatchObject({window: 'interval', commands: 1000});
		expect((second.ops.perSecond * second.ops.intervalMs!) / 1000).toBeCloseTo(1000, 6);
		// Nothing in between: the sampler's INFO does not count as the server's work.
		const third = await takeRedisSample(own, second);
		expect(third.ops.commands).toBe(0);
	});

	it('computes the keyspace hit rate from the hits and misses in the interval', async () => {
		await control.set('hit-me', '1');
		const first = await takeRedisSample(own);
		expect(first.keyspace.window).toBe('cumulative');
		for (let index = 0; index < 30; index++) {
			await control.get('hit-me');
		}

		for (let index = 0; index < 10; index++) {
			await control.get(`missing:${index}`);
		}

		const second = await takeRedisSample(own, first);
		expect(second.keyspace).toEqual({rate: 0.75, window: 'interval', hits: 30, misses: 10});
	});

	it('reports evictions under a tiny maxmemory with allkeys-lru', async () => {
		const used = Number(/used_memory:(\d+)/.exec(await control.info('memory'))?.[1]);
		const limit = used + 2 * 1024 * 1024;
		await control.config('SET', 'maxmemory-policy', 'allkeys-lru');
		await control.config('SET', 'maxmemory', String(limit));
		try {
			const first = await takeRedisSample(own);
			const value = 'v'.repeat(1024);
			for (let batch = 0; batch < 8; batch++) {
				const pipeline = control.pipeline();
				for (let index = 0; index < 500; index++) {
					pipeline.set(`evict:${batch}:${index}`, value);
				}

				await pipeline.exec();
			}

			const second = await takeRedisSample(own, first);
			expect(second.memory).toMatchObject({maxBytes: limit, policy: 'allkeys-lru'});
			expect(second.evictions.total).toBeGreaterThan(first.evictions.total);
			expect(second.evictions.perSecond).toBeGreaterThan(0);
		} finally {
			await control.config('SET', 'maxmemory', '0');
			await control.config('SET', 'maxmemory-policy', 'noeviction');
		}
	});

	it('reports the last save', async () => {
		await control.set('unsaved', '1');
		const first = await takeRedisSample(own);
		expect(first.persistence.changesSinceLastSave).toBeGreaterThan(0);
		await control.save();
		const second = await takeRedisSample(own, first);
		expect(second.persistence).toMatchObject({changesSinceLastSave: 0, lastBgsaveStatus: 'ok', bgsaveInProgress: false});
		expect(second.persistence.lastSaveAt.getTime()).toBeGreaterThanOrEqual(Math.floor(first.sampledAt.getTime() / 1000) * 1000);
		expect(second).toMatchObject({role: 'master', nodes: 1, memory: {maxBytes: 0}});
		expect(second.version).toMatch(/^\d+\.\d+/);
	});

	it('RedisSampler names its connection msdb:sampler and leaves it out', async () => {
		const sampler = new RedisSampler({endpoint, intervalMs: 20});
		sampler.start();
		try {
			const sample: RedisSample = await freshSample(sampler);
			const list = String(await control.call('CLIENT', 'LIST'));
			expect(list.match(/ name=msdb:sampler /g)).toHaveLength(2); // this file's `own` and the sampler's
			// Everyone but the RedisSampler itself: `own` is just another client to it.
			expect(sample.clients.connected).toBe((await clientsButSampler()) + 1);
		} finally {
			await sampler.stop();
		}
	});
});

describe('ServerSampler', () => {
	const database = useTestDatabase('server_sampler');
	const redis = useTestRedis();

	async function snapshotWhere(sampler: ServerSampler, done: (snapshot: ServerSnapshot) => boolean): Promise<ServerSnapshot> {
		return new Promise(resolve => {
			const unsubscribe = sampler.subscribe(snapshot => {
				if (done(snapshot)) {
					unsubscribe();
					resolve(snapshot);
				}
			});
		});
	}

	it('reports both sides together', async () => {
		const sampler = new ServerSampler({
			database: resolveDatabaseConfig(database.url, {}),
			redis: resolveRedisConfig({redisUrl: redis.url}, {}).endpoints.cache,
			intervalMs: 20,
		});
		sampler.start();
		try {
			const snapshot = await snapshotWhere(sampler, current => current.postgres !== null && current.redis !== null);
			expect(snapshot.errors).toEqual({});
			expect(sampler.latest).toBe(snapshot);
		} finally {
			await sampler.stop();
		}
	});

	it('keeps reporting one side while the other fails, with the error redacted', async () => {
		const deadPort = await getPort();
		const sampler = new ServerSampler({
			database: resolveDatabaseConfig(`postgres://app:pg-hunter2-secret@127.0.0.1:${deadPort}/nowhere`, {}),
			redis: resolveRedisConfig({redisUrl: redis.url}, {}).endpoints.cache,
			intervalMs: 20,
		});
		sampler.start();
		try {
			const snapshot = await snapshotWhere(sampler, current => current.redis !== null && current.errors.postgres !== undefined);
			expect(snapshot.postgres).toBeNull();
			expect(snapshot.errors.postgres).toMatch(/127\.0\.0\.1/);
			expect(snapshot.errors.postgres).not.toContain('pg-hunter2-secret');
			expect(snapshot.errors.redis).toBeUndefined();
		} finally {
			await sampler.stop();
		}

		const redisDown = new ServerSampler({
			database: resolveDatabaseConfig(database.url, {}),
			redis: resolveRedisConfig({redisUrl: `redis://:redis-hunter2-secret@127.0.0.1:${deadPort}`}, {}).endpoints.cache,
			intervalMs: 20,
		});
		redisDown.start();
		try {
			const snapshot = await snapshotWhere(redisDown, current => current.postgres !== null && current.errors.redis !== undefined);
			expect(snapshot.redis).toBeNull();
			expect(snapshot.errors.redis).toMatch(/127\.0\.0\.1/);
			expect(snapshot.errors.redis).not.toContain('redis-hunter2-secret');
		} finally {
			await redisDown.stop();
		}
	});
});
