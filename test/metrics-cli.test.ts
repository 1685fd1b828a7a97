/**
 * The acceptance for metrics, end to end with the built CLI: `msdb metrics` and
 * `msdb load` run as separate processes against a fresh database with the agent schema and a
 * private Redis (one MSDB_ENV for both). /metrics is scraped over HTTP several times and parsed
 * with a Prometheus text-format parser: the load process's pool and cache series appear, their
 * counters grow between scrapes, and the instance is gone once load stops. SIGTERM ends
 * `msdb metrics` with exit 0. The migration and backup gauges ride along (the project's own
 * migrations, all applied; a fake two-day-old backup in a directory target).
 */
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {execa, type ResultPromise} from 'execa';
import getPort from 'get-port';
import {afterAll, beforeAll, expect, it} from 'vitest';
import {manifestKey, newBackupId, serializeManifest} from '../source/core/backup/backup-manifest.js';
import {DirectoryTarget} from '../source/core/backup/targets/directory-target.js';
import {sampleManifest} from './support/backup-fixtures.js';
import {applyAgentSchema} from './support/postgres-fixtures.js';
import {samplesOf, scrape, valueOf, type Scrape} from './support/prometheus-scrape.js';
import {CLI_PATH} from './support/run-msdb.js';
import {useTestDatabase} from './support/test-database.js';
import {useTestRedis} from './support/test-redis.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const ENV = 'metricscli';
const DAY_S = 86_400;
const database = useTestDatabase('metrics_cli');
const redis = useTestRedis();
const running: ResultPromise[] = [];
let backupRoot: string;

beforeAll(async () => {
	await applyAgentSchema(database as Parameters<typeof applyAgentSchema>[0]);
	backupRoot = await mkdtemp(path.join(tmpdir(), 'msdb-metrics-cli-'));
	const id = newBackupId(new Date(Date.now() - 2 * DAY_S * 1000));
	const manifest = sampleManifest(id, {startedAt: new Date(Date.now() - 2 * DAY_S * 1000), durationMs: 0});
	await new DirectoryTarget(backupRoot).putBytes(manifestKey(id), serializeManifest(manifest).json);
}, 120_000);

afterAll(async () => {
	for (const child of running) {
		child.kill('SIGKILL');
	}

	await rm(backupRoot, {recursive: true, force: true});
});

/** The built CLI as a long-running child, with only the variables the test gives it. */
function start(args: string[]): ResultPromise {
	const env: Record<string, string | undefined> = {...process.env};
	for (const name of ['DATABASE_URL', 'REDIS_URL', 'PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGPASSWORD', 'MSDB_ENV', 'MSDB_BACKUP_TARGET']) {
		delete env[name];
	}

	const child = execa(process.execPath, [CLI_PATH, ...args], {
		cwd: REPO,
		env: {...env, DATABASE_URL: database.url, REDIS_URL: redis.url, MSDB_ENV: ENV, MSDB_BACKUP_TARGET: backupRoot},
		extendEnv: false,
		reject: false,
		stdin: 'ignore',
		buffer: true,
	});
	running.push(child);
	return child;
}

async function waitFor<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await attempt().catch(() => undefined);
		if (value !== undefined) {
			return value;
		}

		if (Date.now() > deadline) {
			throw new Error(`timed out waiting for ${what}`);
		}

		await new Promise(resolve => setTimeout(resolve, 250));
	}
}

/** The sum of a family's series of one process (over roles, levels, namespaces). */
function total(result: Scrape, name: string, labels: Record<string, string>): number {
	return samplesOf(result, name, labels).reduce((sum, sample) => sum + Number(sample.value), 0);
}

it('serves the load process\'s pool and cache series while `msdb load` runs, and stops on SIGTERM with exit 0', async () => {
	const port = await getPort();
	const metrics = start(['metrics', '--port', String(port), '--host', '127.0.0.1', '--migrations-dir', 'migrations', '--rollbacks-dir', 'rollbacks', '--json']);
	const url = `http://127.0.0.1:${port}`;
	await waitFor('msdb metrics to listen', async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined));

	const idle = await scrape(`${url}/metrics`);
	expect(idle.status).toBe(200);
	expect(valueOf(idle, 'msdb_fleet_instances')).toBe(0);
	expect(valueOf(idle, 'msdb_migrations_pending')).toBe(0);
	expect(valueOf(idle, 'msdb_migrations_applied')).toBeGreaterThan(0);
	expect(valueOf(idle, 'msdb_backups')).toBe(1);
	expect((valueOf(idle, 'msdb_backup_last_age_seconds') ?? 0) / DAY_S).toBeCloseTo(2, 2);
	// The schema has the dual store's outbox (0012): its relay backlog is exported, empty now.
	expect(valueOf(idle, 'msdb_agent_state_outbox_rows')).toBe(0);
	for (const source of ['fleet', 'migrations', 'backups', 'agent-state']) {
		expect(valueOf(idle, 'msdb_scrape_source_up', {source})).toBe(1);
	}

	expect(idle.families.get('process_resident_memory_bytes')?.type).toBe('GAUGE');
	expect(idle.text).not.toContain(database.url);

	const load = start(['load', '--rate', '100', '--duration', '8s', '--agents', '20', '--heartbeat-interval', '500ms', '--json']);
	const first = await waitFor('the load process in the fleet series', async () => {
		const result = await scrape(`${url}/metrics`);
		return samplesOf(result, 'msdb_fleet_pg_pool_acquisitions_total', {service: 'msdb load'}).length > 0 &&
			samplesOf(result, 'msdb_fleet_cache_hits_total', {service: 'msdb load'}).length > 0
			? result
			: undefined;
	});
	const instance = samplesOf(first, 'msdb_fleet_instance_info', {service: 'msdb load'})[0]?.labels?.instance;
	expect(instance).toBeDefined();
	const mine = {instance: instance!};
	expect(valueOf(first, 'msdb_fleet_instances')).toBe(1);
	expect(first.families.get('msdb_fleet_pg_pool_connections')?.type).toBe('GAUGE');
	expect(first.families.get('msdb_fleet_pg_pool_acquisitions_total')?.type).toBe('COUNTER');
	expect(first.families.get('msdb_fleet_cache_hits_total')?.type).toBe('COUNTER');
	expect(samplesOf(first, 'msdb_fleet_pg_pool_connections', {...mine, role: 'primary'}).map(sample => sample.labels?.state).sort()).toEqual(['busy', 'idle']);
	expect(samplesOf(first, 'msdb_fleet_cache_hits_total', mine).map(sample => sample.labels?.level).sort()).toEqual(['l1', 'l2']);
	expect(valueOf(first, 'msdb_fleet_cache_breaker_state', {...mine, namespace: 'agents'})).toBe(0);

	// Counters of the running process grow from one scrape to a later one (heartbeats every 500 ms).
	const moving = ['msdb_fleet_pg_pool_acquisitions_total', 'msdb_fleet_pg_queries_total', 'msdb_fleet_cache_hits_total', 'msdb_fleet_redis_commands_total'];
	let previous = first;
	for (let round = 0; round < 2; round++) {
		const next = await waitFor('the counters to grow', async () => {
			const result = await scrape(`${url}/metrics`);
			return moving.every(name => total(result, name, mine) > total(previous, name, mine)) ? result : undefined;
		});
		previous = next;
	}

	expect((await fetch(`${url}/healthz`)).status).toBe(200);

	const loaded = await load;
	expect(loaded.exitCode, String(loaded.stderr)).toBe(0);
	// A clean stop deletes the heartbeat; the TTL (3 intervals) would drop it anyway.
	await waitFor('the load instance to leave the fleet', async () => {
		const result = await scrape(`${url}/metrics`);
		return samplesOf(result, 'msdb_fleet_instance_info', mine).length === 0 && valueOf(result, 'msdb_fleet_instances') === 0 ? true : undefined;
	});

	metrics.kill('SIGTERM');
	const stopped = await metrics;
	expect(stopped.exitCode, String(stopped.stderr)).toBe(0);
	expect(stopped.stderr).toContain(`serving http://127.0.0.1:${port}/metrics`);
	const summary = JSON.parse(String(stopped.stdout));
	expect(summary).toMatchObject({port, env: ENV});
	expect(summary.scrapes).toBeGreaterThanOrEqual(4);
	expect(summary.sources.map((source: {source: string; up: boolean}) => [source.source, source.up])).toEqual([
		['migrations', true],
		['backups', true],
		['fleet', true],
		['agent-state', true],
	]);
}, 90_000);

it('refuses a port in use with exit 1 and says to pick another with --port', async () => {
	const port = await getPort();
	const first = start(['metrics', '--port', String(port), '--host', '127.0.0.1']);
	const url = `http://127.0.0.1:${port}`;
	await waitFor('msdb metrics to listen', async () => ((await fetch(`${url}/metrics`)).ok ? true : undefined));
	const second = await start(['metrics', '--port', String(port), '--host', '127.0.0.1']);
	expect(second.exitCode).toBe(1);
	expect(second.stderr).toContain(`port ${port}`);
	expect(second.stderr).toContain('--port');
	first.kill('SIGTERM');
	expect((await first).exitCode).toBe(0);
}, 60_000);
