/**
 * Metrics in process: the pool, Redis-command and cache families after real queries and
 * commands (types, labels, counts that move), the operational gauges (pending migrations,
 * backup and restore-drill ages from a directory target seeded with old backups), /healthz 200
 * and 503, a source that hangs (time-boxed, last good values kept), and a busy port. Every scrape
 * goes over HTTP and through an independent Prometheus text-format parser.
 */
import {mkdtemp, rm} from 'node:fs/promises';
import {createServer, type Server, type Socket} from 'node:net';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {Registry} from 'prom-client';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {writeVerificationRecord} from '../source/core/backup/backup-catalogue.js';
import {manifestKey, newBackupId, serializeManifest} from '../source/core/backup/backup-manifest.js';
import {DirectoryTarget} from '../source/core/backup/targets/directory-target.js';
import {MultiLevelCache} from '../source/core/cache/multi-level-cache.js';
import {resolveDatabaseConfig} from '../source/core/config/database-config.js';
import {createMetricsRegistry} from '../source/core/metrics/metrics-registry.js';
import {serveMetrics, type MetricsServer} from '../source/core/metrics/metrics-server.js';
import {registerPoolMetrics} from '../source/core/metrics/pool-metrics.js';
import {ScrapeSource} from '../source/core/metrics/scrape-source.js';
import {applyMigrations} from '../source/core/migrations/apply.js';
import {DEFAULT_LIMITS} from '../source/core/migrations/migration-settings.js';
import {DatabasePools} from '../source/core/pools/database-pools.js';
import {resolvePoolsConfig} from '../source/core/pools/pool-config.js';
import {resolveRedisConfig} from '../source/core/redis/redis-config.js';
import {RedisConnections} from '../source/core/redis/redis-connections.js';
import {sampleManifest, sampleVerification} from './support/backup-fixtures.js';
import {createMigrationProject, type MigrationProject} from './support/migration-project.js';
import {histogramOf, samplesOf, scrape, valueOf} from './support/prometheus-scrape.js';
import {useTestDatabase} from './support/test-database.js';
import {useTestRedis} from './support/test-redis.js';

const DAY_S = 86_400;
const database = useTestDatabase('metrics');
const redis = useTestRedis();
const servers: MetricsServer[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
	await Promise.all(servers.map(async server => server.close()));
	for (const cleanup of cleanups.reverse()) {
		await cleanup();
	}
});

async function serve(registry: Registry, health?: () => Promise<{ok: boolean}>): Promise<string> {
	const server = await serveMetrics({registry, port: 0, host: '127.0.0.1', ...(health ? {health} : {})});
	servers.push(server);
	return server.url;
}

describe('in-process families', () => {
	let pools: DatabasePools;
	let connections: RedisConnections;
	let cache: MultiLevelCache;
	let url: string;

	beforeAll(async () => {
		pools = new DatabasePools(resolvePoolsConfig({databaseUrl: database.url}, {}));
		connections = new RedisConnections(resolveRedisConfig({redisUrl: redis.url}, {}));
		cache = new MultiLevelCache({namespace: 'metrics', env: 'metricstest', redis: connections.client('cache')});
		cleanups.push(async () => pools.close(), async () => connections.close(), async () => cache.close());
		const metrics = createMetricsRegistry({pools, redis: connections, caches: [cache], processMetrics: true});
		url = await serve(metrics.registry);
	});

	it('exports pools, Redis commands and cache levels with their types and labels, and the counts move', async () => {
		for (let index = 0; index < 5; index++) {
			await pools.query('primary', 'SELECT $1::int AS n', [index]);
		}

		await expect(pools.query('primary', 'SELECT 1/0')).rejects.toThrow(/division by zero/);
		const client = connections.client('cache');
		await client.set('metrics:text', 'not a number');
		await expect(client.incr('metrics:text')).rejects.toThrow(/not an integer/);
		await cache.getOrLoad('agent:1', () => ({id: 1}));
		await cache.get('agent:1');

		const first = await scrape(`${url}/metrics`);
		expect(first.status).toBe(200);
		expect(first.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
		const type = (name: string) => first.families.get(name)?.type;
		expect(type('msdb_pg_pool_connections')).toBe('GAUGE');
		expect(type('msdb_pg_pool_acquisitions_total')).toBe('COUNTER');
		expect(type('msdb_pg_pool_acquire_seconds')).toBe('HISTOGRAM');
		expect(type('msdb_pg_query_duration_seconds')).toBe('HISTOGRAM');
		expect(type('msdb_redis_commands_total')).toBe('COUNTER');
		expect(type('msdb_redis_command_duration_seconds')).toBe('HISTOGRAM');
		expect(type('msdb_cache_hits_total')).toBe('COUNTER');
		expect(type('msdb_cache_breaker_state')).toBe('GAUGE');
		expect(type('process_cpu_user_seconds_total')).toBe('COUNTER');

		const primary = {role: 'primary'};
		expect(samplesOf(first, 'msdb_pg_pool_connections', primary).map(sample => sample.labels?.state).sort()).toEqual(['busy', 'idle']);
		expect(valueOf(first, 'msdb_pg_pool_connections', {...primary, state: 'busy'})).toBe(0);
		expect(valueOf(first, 'msdb_pg_pool_max_connections', primary)).toBeGreaterThan(0);
		expect(valueOf(first, 'msdb_pg_pool_waiting_clients', primary)).toBe(0);
		expect(valueOf(first, 'msdb_pg_pool_acquisitions_total', primary)).toBe(6);
		expect(valueOf(first, 'msdb_pg_pool_acquire_errors_total', primary)).toBe(0);
		expect(valueOf(first, 'msdb_pg_query_errors_total', primary)).toBe(1);
		const queries = histogramOf(first, 'msdb_pg_query_duration_seconds', primary);
		expect(queries?.count).toBe(6);
		expect(queries?.buckets['+Inf']).toBe(6);
		expect(histogramOf(first, 'msdb_pg_pool_acquire_seconds', primary)?.count).toBe(6);
		// Only the pools in use exist; no replica URL, so no routing series.
		expect(samplesOf(first, 'msdb_pg_pool_connections', {role: 'analytics'})).toEqual([]);
		expect(samplesOf(first, 'msdb_pg_replica_routing')).toEqual([]);

		const cacheRole = {role: 'cache'};
		expect(valueOf(first, 'msdb_redis_commands_total', {...cacheRole, outcome: 'error'})).toBeGreaterThanOrEqual(1);
		const okBefore = valueOf(first, 'msdb_redis_commands_total', {...cacheRole, outcome: 'ok'}) ?? 0;
		expect(okBefore).toBeGreaterThanOrEqual(2);
		expect(valueOf(first, 'msdb_redis_commands_total', {...cacheRole, outcome: 'timeout'})).toBe(0);
		expect(valueOf(first, 'msdb_redis_connected', cacheRole)).toBe(1);
		expect(histogramOf(first, 'msdb_redis_command_duration_seconds', cacheRole)?.count).toBeGreaterThanOrEqual(okBefore);
		const namespace = {namespace: 'metrics'};
		expect(valueOf(first, 'msdb_cache_hits_total', {...namespace, level: 'l1'})).toBeGreaterThanOrEqual(1);
		expect(valueOf(first, 'msdb_cache_misses_total', {...namespace, level: 'l2'})).toBe(1);
		expect(valueOf(first, 'msdb_cache_breaker_state', namespace)).toBe(0);
		expect(first.text).not.toContain(database.url);

		await pools.query('primary', 'SELECT 1');
		await client.get('metrics:text');
		const second = await scrape(`${url}/metrics`);
		expect(valueOf(second, 'msdb_pg_pool_acquisitions_total', primary)).toBe(7);
		expect(histogramOf(second, 'msdb_pg_query_duration_seconds', primary)?.count).toBe(7);
		expect(valueOf(second, 'msdb_redis_commands_total', {...cacheRole, outcome: 'ok'})).toBeGreaterThan(okBefore);
	});

	it('refuses a second pool set without its own instance label', () => {
		const registry = new Registry();
		registerPoolMetrics(pools, registry);
		expect(() => registerPoolMetrics(pools, registry)).toThrow(expect.objectContaining({code: 'E_CONFIG_INVALID'}));
		expect(() => registerPoolMetrics(pools, registry, {instance: 'second'})).not.toThrow();
	});
});

describe('operational gauges', () => {
	let project: MigrationProject;
	let backupRoot: string;
	let emptyRoot: string;
	const now = Date.now();
	const daysAgo = (days: number) => new Date(now - days * DAY_S * 1000);

	beforeAll(async () => {
		project = await createMigrationProject({
			migrations: {'1_first.sql': 'CREATE TABLE first (id int);'},
			rollbacks: {'1_first.sql': 'DROP TABLE first;'},
		});
		cleanups.push(async () => project.remove());
		await applyMigrations({
			database: resolveDatabaseConfig(database.url, {}),
			migrationsDir: project.migrationsDir,
			rollbacksDir: project.rollbacksDir,
			lockTimeoutMs: 10_000,
			limits: DEFAULT_LIMITS,
			lockRetries: 0,
			actor: 'metrics-test',
		});
		// Written after the apply: one pending file.
		await project.writeMigration('2_second.sql', 'CREATE TABLE second (id int);');
		await project.writeRollback('2_second.sql', 'DROP TABLE second;');

		backupRoot = await mkdtemp(path.join(tmpdir(), 'msdb-metrics-backups-'));
		emptyRoot = await mkdtemp(path.join(tmpdir(), 'msdb-metrics-empty-'));
		cleanups.push(async () => rm(backupRoot, {recursive: true, force: true}), async () => rm(emptyRoot, {recursive: true, force: true}));
		const target = new DirectoryTarget(backupRoot);
		// One backup finished 3 days ago, drilled 2 days ago, plain-verified 1 day ago (its newest
		// record is not the drill, so the drill must be found among its records); an older one never verified.
		for (const days of [3, 5]) {
			const id = newBackupId(daysAgo(days));
			await target.putBytes(manifestKey(id), serializeManifest(sampleManifest(id, {startedAt: daysAgo(days), durationMs: 0})).json);
			if (days === 3) {
				await writeVerificationRecord(target, sampleVerification(id, daysAgo(2), true, true));
				await writeVerificationRecord(target, sampleVerification(id, daysAgo(1), true));
			}
		}
	});

	it('exports pending and applied migrations, backup count and the ages of the last backup, verification and restore drill', async () => {
		const metrics = createMetricsRegistry({
			migrations: {settings: {database: resolveDatabaseConfig(database.url, {}), migrationsDir: project.migrationsDir, rollbacksDir: project.rollbacksDir}},
			backups: {target: new DirectoryTarget(backupRoot)},
		});
		const url = await serve(metrics.registry, metrics.health);
		const result = await scrape(`${url}/metrics`);
		expect(result.families.get('msdb_migrations_pending')?.type).toBe('GAUGE');
		expect(valueOf(result, 'msdb_migrations_pending')).toBe(1);
		expect(valueOf(result, 'msdb_migrations_applied')).toBe(1);
		expect(valueOf(result, 'msdb_migrations_current_version')).toBe(1);
		expect(valueOf(result, 'msdb_backups')).toBe(2);
		expect(valueOf(result, 'msdb_backup_problems')).toBe(0);
		const age = (name: string) => (valueOf(result, name) ?? Number.NaN) / DAY_S;
		// Ages are computed at scrape time; a minute of slack covers a slow machine.
		expect(age('msdb_backup_last_age_seconds')).toBeCloseTo(3, 2);
		expect(age('msdb_backup_last_verified_age_seconds')).toBeCloseTo(1, 2);
		expect(age('msdb_backup_last_verified_restore_age_seconds')).toBeCloseTo(2, 2);
		expect(valueOf(result, 'msdb_scrape_source_up', {source: 'migrations'})).toBe(1);
		expect(valueOf(result, 'msdb_scrape_source_up', {source: 'backups'})).toBe(1);
		expect(valueOf(result, 'msdb_scrape_source_last_success_timestamp_seconds', {source: 'backups'})).toBeGreaterThan(now / 1000 - 60);

		const health = await fetch(`${url}/healthz`);
		expect(health.status).toBe(200);
		expect(await health.text()).toBe('ok\n');
		expect((await fetch(`${url}/nothing`)).status).toBe(404);
		expect((await fetch(`${url}/metrics`, {method: 'POST'})).status).toBe(405);
	});

	it('has no age samples for a target without backups, and no pending count when not asked to', async () => {
		const metrics = createMetricsRegistry({
			migrations: {settings: {database: resolveDatabaseConfig(database.url, {}), migrationsDir: project.migrationsDir, rollbacksDir: project.rollbacksDir}, countPending: false},
			backups: {target: new DirectoryTarget(emptyRoot)},
		});
		const result = await scrape(`${await serve(metrics.registry, metrics.health)}/metrics`);
		expect(valueOf(result, 'msdb_backups')).toBe(0);
		expect(valueOf(result, 'msdb_backup_last_age_seconds')).toBeUndefined();
		expect(valueOf(result, 'msdb_backup_last_verified_restore_age_seconds')).toBeUndefined();
		expect(valueOf(result, 'msdb_migrations_pending')).toBeUndefined();
		expect(valueOf(result, 'msdb_migrations_applied')).toBe(1);
	});
});

describe('sources that do not answer', () => {
	let silent: Server;
	let silentPort: number;
	const sockets = new Set<Socket>();

	beforeAll(async () => {
		// Accepts connections and never says a word: a server behind a black hole.
		silent = createServer(socket => {
			sockets.add(socket);
			socket.on('error', () => {});
		});
		await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve));
		silentPort = (silent.address() as {port: number}).port;
		cleanups.push(async () => {
			for (const socket of sockets) {
				socket.destroy();
			}

			await new Promise(resolve => silent.close(resolve));
		});
	});

	it('time-boxes a hanging source: the scrape answers, up is 0, and /healthz is 503 naming it', async () => {
		const metrics = createMetricsRegistry({
			migrations: {
				settings: {database: resolveDatabaseConfig(`postgres://metrics:secret-password@127.0.0.1:${silentPort}/nowhere`, {}), migrationsDir: '/nonexistent', rollbacksDir: '/nonexistent'},
				countPending: false,
				timeoutMs: 300,
			},
		});
		const url = await serve(metrics.registry, metrics.health);
		const result = await scrape(`${url}/metrics`);
		expect(valueOf(result, 'msdb_scrape_source_up', {source: 'migrations'})).toBe(0);
		expect(valueOf(result, 'msdb_migrations_applied')).toBeUndefined();
		const health = await fetch(`${url}/healthz`);
		expect(health.status).toBe(503);
		expect(await health.json()).toEqual({ok: false, failing: [{source: 'migrations', error: 'no answer within 300 ms'}]});
	});

	it('keeps the last good value while a source fails, and says why without secrets', async () => {
		const results: Array<() => Promise<number>> = [
			async () => 42,
			async () => {
				throw new Error('cannot reach postgres://app:secret-password@db.internal/app');
			},
		];
		const source = new ScrapeSource<number>('test', async () => (results.shift() ?? (async () => 7))(), {maxAgeMs: 0});
		expect(await source.read()).toMatchObject({value: 42, up: true});
		const failed = await source.read();
		expect(failed).toMatchObject({value: 42, up: false});
		expect(failed.error).toContain('db.internal');
		expect(failed.error).not.toContain('secret-password');
	});

	it('refuses a busy port with the port and the next step', async () => {
		const busy = createServer();
		await new Promise<void>(resolve => busy.listen(0, '127.0.0.1', resolve));
		const {port} = busy.address() as {port: number};
		try {
			const refused = serveMetrics({registry: new Registry(), port, host: '127.0.0.1'});
			await expect(refused).rejects.toMatchObject({code: 'E_IO', message: expect.stringContaining(`port ${port}`), nextStep: expect.stringContaining('--port')});
		} finally {
			await new Promise(resolve => busy.close(resolve));
		}
	});
});
