/**
 * The console's model against real services: a fresh database with the framework's migrations
 * partly applied, a private Redis holding one heartbeat, and a directory backup target. What the
 * model emits must match what is there, a Redis that goes away must show as an error while
 * PostgreSQL keeps updating, and stop() must leave nothing behind.
 */
import {cp, mkdtemp, readdir, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {Redis} from 'ioredis';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {writeVerificationRecord} from '../source/core/backup/backup-catalogue.js';
import {manifestKey, newBackupId, serializeManifest} from '../source/core/backup/backup-manifest.js';
import {DirectoryTarget} from '../source/core/backup/targets/directory-target.js';
import {resolveDatabaseConfig} from '../source/core/config/database-config.js';
import {POSTGRES_STATEMENTS_PER_POLL, type DashboardModel} from '../source/core/console/dashboard-model.js';
import type {DashboardSnapshot} from '../source/core/console/dashboard-snapshot.js';
import {openDashboard} from '../source/core/console/open-dashboard.js';
import {nextRefreshInterval} from '../source/core/console/refresh-steps.js';
import {CacheHitRateTracker} from '../source/core/console/cache-hit-rates.js';
import {FleetKeyspace} from '../source/core/fleet/fleet-keyspace.js';
import {fleetTotals, type FleetReading} from '../source/core/fleet/fleet-reader.js';
import type {HeartbeatSnapshot} from '../source/core/fleet/heartbeat-snapshot.js';
import {applyMigrations} from '../source/core/migrations/apply.js';
import {DEFAULT_LIMITS} from '../source/core/migrations/migration-settings.js';
import {startLocalRedis} from '../source/core/provision/index.js';
import {sampleManifest, sampleVerification} from './support/backup-fixtures.js';
import {query} from './support/sql.js';
import {useTestDatabase} from './support/test-database.js';
import {useTestRedis} from './support/test-redis.js';

const REPO_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
const REPO_ROLLBACKS = fileURLToPath(new URL('../rollbacks', import.meta.url));
const ENV = 'dashtest';
const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms));

/** Resolves with the first snapshot (the current one included) that passes `check`. */
async function until(model: DashboardModel, check: (snapshot: DashboardSnapshot) => boolean, timeoutMs = 15_000): Promise<DashboardSnapshot> {
	if (check(model.latest)) {
		return model.latest;
	}

	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			unsubscribe();
			reject(new Error(`timed out; the last snapshot's errors: ${JSON.stringify(model.latest.errors)}`));
		}, timeoutMs);
		const unsubscribe = model.subscribe(snapshot => {
			if (check(snapshot)) {
				clearTimeout(timer);
				unsubscribe();
				resolve(snapshot);
			}
		});
	});
}

/** The counters of one cache namespace as a heartbeat carries them (running totals since the process started). */
type CacheCounts = {l1: [hits: number, misses: number]; l2: [hits: number, misses: number]; l3: [loads: number, loadErrors: number]};

const FIRST_COUNTS: CacheCounts = {l1: [90, 10], l2: [6, 4], l3: [4, 0]};

/** A heartbeat as a framework process publishes it (format 1), with one cache namespace. */
async function publishHeartbeat(url: string, instanceId: string, counts: CacheCounts = FIRST_COUNTS, publishedAt = new Date()): Promise<void> {
	const keyspace = new FleetKeyspace(ENV);
	const snapshot = {
		format: 1,
		instanceId,
		service: 'agent-runtime',
		host: 'test-host',
		pid: 4242,
		version: '0.1.0',
		startedAt: new Date(publishedAt.getTime() - 60_000).toISOString(),
		publishedAt: publishedAt.toISOString(),
		intervalMs: 5000,
		pools: [{role: 'primary', max: 20, total: 5, idle: 3, waiting: 0, acquisitions: 100, acquireErrors: 0, acquireMsSum: 12, queries: 300, queryErrors: 1, queryMsSum: 90}],
		caches: [
			{
				namespace: 'agents',
				l1: {hits: counts.l1[0], misses: counts.l1[1], entries: 50, bytes: 5000},
				l2: {hits: counts.l2[0], misses: counts.l2[1], unavailable: 0, breaker: 'closed'},
				l3: {loads: counts.l3[0], loadErrors: counts.l3[1]},
			},
		],
		redis: [],
	};
	const client = new Redis(url);
	try {
		await client.set(keyspace.instance(instanceId), JSON.stringify(snapshot), 'PX', 60_000);
		await client.zadd(keyspace.indexKey, Date.now() + 60_000, instanceId);
	} finally {
		client.disconnect();
	}
}

describe('DashboardModel against real services', () => {
	const database = useTestDatabase('dashboard');
	const redis = useTestRedis();
	let project: string;
	let backupDirectory: string;
	let backupId: string;
	let drilledAt: Date;
	/** Versions of the framework's migrations after 8 (the repo adds more over time). */
	let pendingVersions: number[];

	beforeAll(async () => {
		project = await mkdtemp(path.join(tmpdir(), 'msdb-dashboard-'));
		await cp(REPO_MIGRATIONS, path.join(project, 'migrations'), {recursive: true});
		await cp(REPO_ROLLBACKS, path.join(project, 'rollbacks'), {recursive: true});
		await applyMigrations(
			{
				database: resolveDatabaseConfig(database.url, {}),
				migrationsDir: path.join(project, 'migrations'),
				rollbacksDir: path.join(project, 'rollbacks'),
				lockTimeoutMs: 60_000,
				limits: DEFAULT_LIMITS,
				lockRetries: 3,
				actor: 'dashboard-test',
			},
			{target: 8},
		);
		pendingVersions = (await readdir(path.join(project, 'migrations')))
			.map(file => Number(file.split('_')[0]))
			.filter(version => version > 8)
			.sort((a, b) => a - b);
		expect(pendingVersions.length).toBeGreaterThan(0);
		await publishHeartbeat(redis.url, 'test-host:4242:abc');

		backupDirectory = await mkdtemp(path.join(tmpdir(), 'msdb-dashboard-backups-'));
		const target = new DirectoryTarget(backupDirectory);
		const startedAt = new Date(Date.now() - 3 * 3_600_000);
		backupId = newBackupId(startedAt);
		await target.putBytes(manifestKey(backupId), serializeManifest(sampleManifest(backupId, {startedAt})).json);
		// A drill, then a later plain verify: the newest record is not the drill, and it still counts.
		drilledAt = new Date(Date.now() - 2 * 3_600_000);
		await writeVerificationRecord(target, sampleVerification(backupId, drilledAt, true, true));
		await writeVerificationRecord(target, sampleVerification(backupId, new Date(Date.now() - 3_600_000), true, false));
	});

	afterAll(async () => {
		await rm(project, {recursive: true, force: true});
		await rm(backupDirectory, {recursive: true, force: true});
	});

	function openModel(overrides: {intervalMs?: number; migrationsIntervalMs?: number; redisUrl?: string} = {}): DashboardModel {
		const {model} = openDashboard({
			databaseUrl: database.url,
			redisUrl: overrides.redisUrl ?? redis.url,
			migrationsDir: path.join(project, 'migrations'),
			rollbacksDir: path.join(project, 'rollbacks'),
			backupTarget: backupDirectory,
			intervalMs: overrides.intervalMs ?? 100,
			env: {MSDB_ENV: ENV, MSDB_ACTOR: 'dashboard-test'},
		});
		return model;
	}

	it('emits PostgreSQL and Redis figures, the fleet, pending migrations and backups', async () => {
		const model = openModel({intervalMs: 100});
		model.start();
		try {
			const snapshot = await until(
				model,
				s => s.postgres !== null && s.postgres.transactions !== null && s.redis !== null && s.fleet !== null && s.migrations !== null && s.backups !== null,
			);
			expect(snapshot.errors).toEqual({});
			expect(snapshot.configured).toEqual({postgres: true, redis: true, fleet: true, migrations: true, backups: true});

			const pg = snapshot.postgres!;
			expect(pg.maxConnections).toBeGreaterThan(0);
			expect(pg.connections.total).toBe(pg.applications.reduce((sum, application) => sum + application.total, 0));
			expect(pg.bufferCache.ratio).toBeGreaterThan(0);
			expect(snapshot.header.postgres).toMatchObject({database: database.name, version: pg.serverVersion});
			expect(snapshot.header.postgres?.host).toMatch(/:\d+$/);

			const rd = snapshot.redis!;
			expect(rd.clients.max).toBeGreaterThan(0);
			expect(rd.memory.usedBytes).toBeGreaterThan(0);
			expect(snapshot.header.redis).toMatchObject({mode: 'standalone', version: rd.version});

			expect(snapshot.fleet?.env).toBe(ENV);
			expect(snapshot.fleet?.instances.map(instance => instance.instanceId)).toEqual(['test-host:4242:abc']);
			expect(snapshot.fleet?.totals.caches[0]).toMatchObject({namespace: 'agents', l1: {hitRatio: 0.9}, l2: {hitRatio: 0.6}});
			// One heartbeat per instance so far: nothing to compare, so the rates are since the start.
			expect(snapshot.fleet?.cacheRates).toEqual([{namespace: 'agents', window: 'cumulative', windowMs: null, l1: 0.9, l2: 0.6, loads: 4, l3: 1}]);

			const migrations = snapshot.migrations!;
			expect(migrations.current).toBe(8);
			expect(migrations.applied).toBe(8);
			expect(migrations.pending.map(migration => migration.version)).toEqual(pendingVersions);
			expect(migrations.validation).toEqual({ok: true, problems: []});
			expect(migrations.drift).toMatchObject({ok: true, problems: []});
			expect(migrations.drift?.snapshotTakenAt).not.toBeNull();

			const backups = snapshot.backups!;
			expect(backups.total).toBe(1);
			expect(backups.lastBackup?.id).toBe(backupId);
			expect(backups.lastVerifiedRestore).toEqual({backupId, verifiedAt: drilledAt.toISOString()});
			expect(backups.recent[0]?.lastVerification).toMatchObject({ok: true, drill: false});
			expect(snapshot.header.backupTarget).toBe(backupDirectory);
		} finally {
			await model.stop();
		}
	});

	it('rates the caches over the last heartbeat interval once an instance has published twice; since start again when its counters go down', async () => {
		const model = openModel({intervalMs: 100});
		model.start();
		try {
			await until(model, s => s.fleet !== null);
			// The same process 5 s later: 10 more L1 hits and 20 more misses, and so on.
			const publishedAt = new Date(Date.now() + 5000);
			await publishHeartbeat(redis.url, 'test-host:4242:abc', {l1: [100, 30], l2: [7, 13], l3: [6, 1]}, publishedAt);
			const moved = await until(model, s => s.fleet?.cacheRates[0]?.window === 'interval');
			expect(moved.fleet?.cacheRates[0]).toMatchObject({namespace: 'agents', l1: 10 / 30, l2: 1 / 10, loads: 2, l3: 0.5});
			expect(moved.fleet?.cacheRates[0]?.windowMs).toBeGreaterThan(0);
			// The lifetime ratios are still there for whoever wants them.
			expect(moved.fleet?.totals.caches[0]?.l1.hitRatio).toBeCloseTo(100 / 130);

			// Counters lower than the last heartbeat's: the cache was re-created; its lifetime ratio it is.
			await publishHeartbeat(redis.url, 'test-host:4242:abc', {l1: [1, 1], l2: [0, 0], l3: [0, 0]}, new Date(publishedAt.getTime() + 5000));
			const reset = await until(model, s => s.fleet?.cacheRates[0]?.window === 'cumulative');
			expect(reset.fleet?.cacheRates[0]).toEqual({namespace: 'agents', window: 'cumulative', windowMs: null, l1: 0.5, l2: null, loads: 0, l3: null});
		} finally {
			await model.stop();
			await publishHeartbeat(redis.url, 'test-host:4242:abc');
		}
	});

	it('sends a small, fixed number of requests per interval and says so', async () => {
		const model = openModel({intervalMs: 100});
		model.start();
		try {
			await until(model, s => s.postgres !== null && s.redis !== null && s.fleet !== null && s.migrations !== null);
			const before = model.load();
			await sleep(1000);
			const after = model.load();
			const polls = after.postgresPolls - before.postgresPolls;
			// ~10 polls in 1 s at 100 ms (each poll's own time adds to the interval).
			expect(polls).toBeGreaterThanOrEqual(4);
			expect(polls).toBeLessThanOrEqual(11);
			expect(after.postgresStatements - before.postgresStatements).toBe(polls * POSTGRES_STATEMENTS_PER_POLL);
			// One INFO per poll (Redis 7 has maxclients in INFO), and a script call plus one MGET per fleet read.
			const redisPolls = after.redisCommands - before.redisCommands;
			expect(redisPolls).toBeGreaterThanOrEqual(4);
			expect(redisPolls).toBeLessThanOrEqual(11);
			const fleetPolls = after.fleetPolls - before.fleetPolls;
			expect(after.fleetCommands - before.fleetCommands).toBe(fleetPolls * 2);
			// Migrations and backups are on their own slow schedule: not re-read within the second.
			expect(after.migrationChecks).toBe(before.migrationChecks);
			expect(after.backupListings).toBe(before.backupListings);
		} finally {
			await model.stop();
		}
	});

	it('re-reads migrations at once after refreshNow(), not at its 30 s interval', async () => {
		const model = openModel({intervalMs: 200});
		model.start();
		const extra = path.join(project, 'migrations', '9001_dashboard_probe.sql');
		try {
			await until(model, s => s.migrations !== null);
			await writeFile(extra, 'CREATE TABLE dashboard_probe (id int);\n');
			await writeFile(path.join(project, 'rollbacks', '9001_dashboard_probe.sql'), 'DROP TABLE dashboard_probe;\n');
			model.refreshNow();
			const snapshot = await until(model, s => s.migrations?.pending.some(migration => migration.version === 9001) === true, 10_000);
			expect(snapshot.migrations?.pending.map(migration => migration.version)).toEqual([...pendingVersions, 9001]);
		} finally {
			await model.stop();
			await rm(extra, {force: true});
			await rm(path.join(project, 'rollbacks', '9001_dashboard_probe.sql'), {force: true});
		}
	});

	it('pauses (nothing is sent), resumes at once, and changes the interval', async () => {
		const model = openModel({intervalMs: 100});
		model.start();
		try {
			await until(model, s => s.postgres !== null && s.redis !== null);
			model.pause();
			expect(model.latest.paused).toBe(true);
			await sleep(150);
			const paused = model.load();
			await sleep(500);
			expect(model.load()).toMatchObject({
				postgresPolls: paused.postgresPolls,
				redisCommands: paused.redisCommands,
				fleetPolls: paused.fleetPolls,
				fleetCommands: paused.fleetCommands,
			});
			model.setInterval(nextRefreshInterval(100, 'slower'));
			expect(model.latest.intervalMs).toBe(500);
			model.resume();
			expect(model.latest.paused).toBe(false);
			await until(model, () => model.load().postgresPolls > paused.postgresPolls, 2000);
		} finally {
			await model.stop();
		}
	});

	it('shows a Redis that goes away as an error while PostgreSQL keeps updating, and recovers', async () => {
		const server = await startLocalRedis();
		const model = openModel({intervalMs: 100, redisUrl: server.url});
		model.start();
		try {
			await until(model, s => s.redis !== null && s.postgres !== null);
			await server.kill();
			const down = await until(model, s => s.redis === null && s.errors.redis !== undefined);
			expect(down.errors.redis).toMatch(/Redis/);
			const fleetDown = await until(model, s => s.errors.fleet !== undefined);
			expect(fleetDown.fleet).toBeNull();
			const postgresAt = down.updatedAt.postgres!.getTime();
			const later = await until(model, s => (s.updatedAt.postgres?.getTime() ?? 0) > postgresAt && s.postgres !== null);
			expect(later.errors.postgres).toBeUndefined();
			expect(later.errors.redis).toBeDefined();
			expect(later.header.redis?.version).not.toBeNull();

			// Backoff spaces the retries out (200, 400 … ms at this interval), but they go on.
			await server.restart();
			const back = await until(model, s => s.redis !== null && s.errors.redis === undefined, 20_000);
			expect(back.redis?.clients.max).toBeGreaterThan(0);
		} finally {
			await model.stop();
			await server.stop();
		}
	});

	it('stop() ends every poll, closes every connection and emits nothing more', async () => {
		const applicationNames = async () =>
			(await query<{name: string}>(database.url, 'SELECT application_name AS name FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).map(row => row.name);
		const redisClients = async () => {
			const client = new Redis(redis.url);
			try {
				return ((await client.client('LIST')) as string).split('\n').filter(line => /name=msdb:/.test(line));
			} finally {
				client.disconnect();
			}
		};

		const timersBefore = process.getActiveResourcesInfo().filter(kind => kind === 'Timeout').length;
		const model = openModel({intervalMs: 50, migrationsIntervalMs: 50});
		model.start();
		await until(model, s => s.postgres !== null && s.redis !== null && s.fleet !== null && s.migrations !== null);
		expect(await applicationNames()).toContain('msdb:sampler');
		expect((await redisClients()).length).toBeGreaterThanOrEqual(2);

		let emitted = 0;
		model.subscribe(() => {
			emitted++;
		});
		await model.stop();
		const afterStop = emitted;
		await sleep(300);
		expect(emitted).toBe(afterStop);
		expect(process.getActiveResourcesInfo().filter(kind => kind === 'Timeout').length).toBeLessThanOrEqual(timersBefore);
		// The server forgets a closed session a moment after the client hangs up.
		for (let attempt = 0; attempt < 100; attempt++) {
			const names = await applicationNames();
			const clients = await redisClients();
			if (!names.some(name => name.startsWith('msdb:')) && clients.length === 0) {
				return;
			}

			await sleep(50);
		}

		throw new Error(`still connected: ${JSON.stringify({pg: await applicationNames(), redis: await redisClients()})}`);
	});

	it('refuses a malformed URL before anything is contacted', () => {
		expect(() =>
			openDashboard({databaseUrl: 'mysql://nope', migrationsDir: 'm', rollbacksDir: 'r', intervalMs: 2000, env: {}}),
		).toThrow(expect.objectContaining({code: 'E_CONFIG_INVALID'}));
		expect(() =>
			openDashboard({databaseUrl: 'postgres://localhost/db', redisUrl: 'http://nope', migrationsDir: 'm', rollbacksDir: 'r', intervalMs: 2000, env: {}}),
		).toThrow(expect.objectContaining({code: 'E_REDIS_CONFIG_INVALID'}));
	});
});

describe('CacheHitRateTracker', () => {
	const T0 = Date.parse('2025-06-01T12:00:00.000Z');
	function instance(id: string, publishedAtMs: number, l1: [number, number]): HeartbeatSnapshot {
		return {
			format: 1,
			instanceId: id,
			service: 'agent-runtime',
			host: 'h',
			pid: 1,
			version: '0.1.0',
			startedAt: new Date(T0 - 60_000).toISOString(),
			publishedAt: new Date(publishedAtMs).toISOString(),
			intervalMs: 5000,
			pools: [],
			caches: [{namespace: 'agents', l1: {hits: l1[0], misses: l1[1], entries: 1, bytes: 1}, l2: {hits: 0, misses: 0, unavailable: 0, breaker: 'closed'}, l3: {loads: 0, loadErrors: 0}}],
			redis: [],
		};
	}

	function reading(...instances: HeartbeatSnapshot[]): FleetReading {
		return {env: 'dev', instances, totals: fleetTotals(instances), skipped: 0, readAt: new Date(T0).toISOString()};
	}

	it('compares consecutive heartbeats per instance, keeps the pair while the console re-reads the same one, and falls back when one cannot be compared', () => {
		const tracker = new CacheHitRateTracker();
		expect(tracker.update(reading(instance('a', T0, [90, 10])))[0]).toMatchObject({window: 'cumulative', l1: 0.9});
		const next = reading(instance('a', T0 + 5000, [100, 30]));
		expect(tracker.update(next)[0]).toMatchObject({window: 'interval', windowMs: 5000, l1: 10 / 30});
		// The console reads faster than processes publish: the same heartbeat again keeps the rates.
		expect(tracker.update(next)[0]).toMatchObject({window: 'interval', windowMs: 5000, l1: 10 / 30});
		// Two instances: the deltas add up (a: +10/+0, b: +0/+10), the window is the longer gap.
		tracker.update(reading(instance('a', T0 + 10_000, [100, 30]), instance('b', T0 + 9000, [0, 0])));
		const both = tracker.update(reading(instance('a', T0 + 15_000, [110, 30]), instance('b', T0 + 16_000, [0, 10])));
		expect(both[0]).toMatchObject({window: 'interval', windowMs: 7000, l1: 0.5});
		// A process that just started has nothing to compare: the namespace shows since start.
		const joined = tracker.update(reading(instance('a', T0 + 20_000, [120, 30]), instance('b', T0 + 21_000, [0, 20]), instance('c', T0 + 20_000, [5, 5])));
		expect(joined[0]).toMatchObject({window: 'cumulative', windowMs: null, l1: 125 / 180});
		// No reads in the interval: no rate, rather than an old one.
		expect(tracker.update(reading(instance('a', T0 + 25_000, [120, 30]), instance('b', T0 + 26_000, [0, 20]), instance('c', T0 + 25_000, [5, 5])))[0]).toMatchObject({
			window: 'interval',
			l1: null,
		});
	});
});
