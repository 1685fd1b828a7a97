/**
 * `msdb load` (issue item 7): a short run through the core library against a fresh database with
 * the framework's schema and a private Redis does every kind of operation and leaves their marks
 * (tasks, messages, state versions, sessions, cache hits) while its heartbeat is in the fleet;
 * without the schema it refuses; the CLI prints the summary on --duration and on SIGTERM.
 *
 * Short on purpose (two cores, other files run too): about two seconds of load at a modest rate,
 * and no assertion on timings or throughput.
 */
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {readFleet} from '../source/core/fleet/fleet-reader.js';
import {DEFAULT_WORKLOAD_MIX, OPERATION_KINDS, WorkloadPicker} from '../source/core/load/workload-mix.js';
import {OpenLoopPacer} from '../source/core/load/open-loop-pacer.js';
import {runLoad} from '../source/core/load/run-load.js';
import type {LoadSummary} from '../source/core/load/load-summary.js';
import {resolvePoolsConfig} from '../source/core/pools/pool-config.js';
import {createRedisClient} from '../source/core/redis/create-redis-client.js';
import type {RedisClient} from '../source/core/redis/redis-client.js';
import {parseRedisUrl, resolveRedisConfig} from '../source/core/redis/redis-config.js';
import {RedisSessionStore} from '../source/core/sessions/redis-session-store.js';
import type {StatusEvent} from '../source/core/status-event.js';
import {applyAgentSchema} from './support/postgres-fixtures.js';
import {CLI_PATH, runMsdb} from './support/run-msdb.js';
import {query} from './support/sql.js';
import {createTestDatabase, useTestDatabase, type TestDatabase} from './support/test-database.js';
import {useTestRedis} from './support/test-redis.js';

const ENV = 'loadtest';
const database = useTestDatabase('load');
const redis = useTestRedis();
let client: RedisClient;
let cwd: string;

beforeAll(async () => {
	await applyAgentSchema(database as TestDatabase);
	client = createRedisClient(parseRedisUrl(redis.url, 'default'), {connectionName: 'msdb:test', commandTimeoutMs: 10_000}).client;
	client.on('error', () => {});
	cwd = await mkdtemp(path.join(tmpdir(), 'msdb-load-'));
}, 120_000);

afterAll(async () => {
	client?.disconnect();
	if (cwd) {
		await rm(cwd, {recursive: true, force: true});
	}
});

function loadOptions(overrides: Record<string, unknown> = {}) {
	return {
		pools: resolvePoolsConfig({databaseUrl: database.url}, {}),
		redis: resolveRedisConfig({redisUrl: redis.url}, {}),
		env: {MSDB_ENV: ENV},
		...overrides,
	};
}

async function scalar(sql: string): Promise<number> {
	const rows = (await query(database.url, sql)) as Array<Record<string, unknown>>;
	return Number(Object.values(rows[0] ?? {})[0]);
}

describe('workload pieces', () => {
	it('picks kinds in proportion to their weights', () => {
		const picker = new WorkloadPicker();
		expect(picker.kinds).toEqual(OPERATION_KINDS);
		expect(picker.pick(0)).toBe('agent-read');
		expect(picker.pick(0.4999)).toBe('agent-read');
		expect(picker.pick(0.5)).toBe('session-get');
		expect(picker.pick(0.9999)).toBe('state-write');
		expect(DEFAULT_WORKLOAD_MIX.reduce((sum, share) => sum + share.weight, 0)).toBe(100);
		expect(new WorkloadPicker([{kind: 'task-claim', weight: 1, description: ''}]).pick(0.7)).toBe('task-claim');
	});

	it('caps operations in flight and counts the ones it could not start as dropped', async () => {
		// Operations that never finish until released: a server that stopped answering.
		const release: Array<() => void> = [];
		const pacer = new OpenLoopPacer({ratePerSecond: 1000, maxInFlight: 5});
		const stop = new AbortController();
		const run = pacer.run(async () => new Promise<void>(resolve => release.push(resolve)), stop.signal);
		await new Promise(resolve => setTimeout(resolve, 100));
		expect(pacer.counts().inFlight).toBe(5);
		expect(pacer.counts().dropped).toBeGreaterThan(0);
		stop.abort();
		for (const resolve of release) {
			resolve();
		}

		const counts = await run;
		expect(counts).toMatchObject({started: 5, inFlight: 0, peakInFlight: 5});
	});
});

describe('runLoad', () => {
	it('seeds the load agents once and reuses them', async () => {
		const first = await runLoad(loadOptions({agents: 20, seedOnly: true}));
		expect(first).toMatchObject({stoppedBy: 'seed-only', seed: {agents: 20, created: 20}, totals: {operations: 0}, cache: null, heartbeat: null});
		const second = await runLoad(loadOptions({agents: 20, seedOnly: true}));
		expect(second.seed).toMatchObject({agents: 20, created: 0});
		expect(await scalar("SELECT count(*) FROM agents.agents WHERE name LIKE 'load-agent-%'")).toBe(20);
	});

	it('runs every kind of operation through the core library, with its heartbeat in the fleet while it runs', async () => {
		const events: StatusEvent[] = [];
		const stop = new AbortController();
		const run = runLoad(loadOptions({agents: 20, ratePerSecond: 200, heartbeatIntervalMs: 300, reportIntervalMs: 500}), {
			signal: stop.signal,
			onEvent: event => events.push(event),
		});
		// The heartbeat shows this process, its pools and its cache while it runs.
		let seen: Awaited<ReturnType<typeof readFleet>>['instances'][number] | undefined;
		const deadline = Date.now() + 15_000;
		while (!seen && Date.now() < deadline) {
			const fleet = await readFleet(client, {env: ENV});
			seen = fleet.instances.find(instance => instance.service === 'msdb load' && instance.pools.some(pool => pool.queries > 0) && instance.caches.length > 0);
			await new Promise(resolve => setTimeout(resolve, 100));
		}

		expect(seen?.caches[0]?.namespace).toBe('agents');
		expect(seen?.redis.map(role => role.role)).toEqual(expect.arrayContaining(['cache', 'sessions']));
		await new Promise(resolve => setTimeout(resolve, 2000));
		stop.abort();
		const summary: LoadSummary = await run;

		expect(summary.stoppedBy).toBe('signal');
		for (const kind of OPERATION_KINDS) {
			expect(summary.operations[kind]?.count, kind).toBeGreaterThan(0);
			expect(summary.operations[kind]?.errors, kind).toBe(0);
		}

		expect(summary.totals.operations).toBe(Object.values(summary.operations).reduce((sum, kind) => sum + kind.count, 0));
		expect(summary.cache!.l1Hits + summary.cache!.l2Hits).toBeGreaterThan(0);
		expect(summary.cache!.loads).toBeGreaterThan(0);
		expect(summary.heartbeat).toMatchObject({service: 'msdb load'});
		expect(summary.heartbeat!.published).toBeGreaterThan(0);
		expect(events.some(event => event.live && /ops\/s/.test(event.message))).toBe(true);

		// The operations left their rows: tasks enqueued and completed, messages in this month's
		// partition (not the default), state versions that went up once per state write.
		expect(await scalar("SELECT count(*) FROM tasks.tasks WHERE labels @> ARRAY['msdb-load']")).toBe(summary.operations['task-enqueue']!.count);
		const claimed = summary.operations['task-claim']!.count - summary.operations['task-claim']!.idle;
		expect(await scalar("SELECT count(*) FROM tasks.tasks WHERE labels @> ARRAY['msdb-load'] AND status = 'succeeded'")).toBe(claimed);
		expect(await scalar("SELECT count(*) FROM messages.messages WHERE metadata->>'source' = 'msdb load'")).toBe(summary.operations['message-insert']!.count);
		expect(await scalar("SELECT count(*) FROM messages.messages_default WHERE metadata->>'source' = 'msdb load'")).toBe(0);
		expect(
			await scalar("SELECT coalesce(sum(s.version), 0) FROM agents.state s JOIN agents.agents a ON a.id = s.agent_id WHERE a.name LIKE 'load-agent-%'"),
		).toBe(summary.operations['state-write']!.count);

		// Sessions in Redis, in the MSDB_ENV environment.
		expect(await new RedisSessionStore(client, {env: ENV}).count()).toBeGreaterThan(0);
		// A clean stop takes the heartbeat out of the fleet at once.
		expect((await readFleet(client, {env: ENV})).instances.filter(instance => instance.service === 'msdb load')).toEqual([]);
	}, 60_000);
});

describe('msdb load (CLI)', () => {
	const env = () => ({DATABASE_URL: database.url, REDIS_URL: redis.url, MSDB_ENV: ENV});

	it('refuses without the framework schema, naming what is missing and msdb migrate apply (exit 2)', async () => {
		const empty = await createTestDatabase('load_empty');
		try {
			const result = await runMsdb(['load', '--duration', '1s', '--json'], {cwd, env: {...env(), DATABASE_URL: empty.url}});
			expect(result.exitCode).toBe(2);
			expect(result.json.error.code).toBe('E_CONFIG_INVALID');
			expect(result.json.error.message).toContain('agents.agents');
			expect(result.json.error.nextStep).toContain('msdb migrate apply');
			expect(result.stderr).toContain('msdb migrate apply');
		} finally {
			await empty.drop();
		}
	}, 60_000);

	it('--duration 3s --json exits 0 with the summary, after a throughput line on stderr', async () => {
		const result = await runMsdb(['load', '--duration', '3s', '--rate', '100', '--agents', '20', '--json'], {cwd, env: env()});
		expect(result.exitCode, result.stderr).toBe(0);
		expect(result.json).toMatchObject({stoppedBy: 'duration', env: ENV, rate: {target: 100}, seed: {agents: 20}});
		expect(result.json.totals.operations).toBeGreaterThan(0);
		expect(result.json.operations['agent-read'].count).toBeGreaterThan(0);
		expect(result.stderr).toMatch(/ops\/s \(target/);
	}, 60_000);

	it('runs until SIGTERM, then exits 0 with the summary', async () => {
		const child = execa(process.execPath, [CLI_PATH, 'load', '--rate', '100', '--agents', '20', '--json'], {
			cwd,
			env: {PATH: process.env.PATH, ...env()},
			extendEnv: false,
			reject: false,
			stdin: 'ignore',
		});
		let stderr = '';
		child.stderr.on('data', (chunk: Buffer) => {
			stderr += chunk.toString();
		});
		const deadline = Date.now() + 30_000;
		while (!/ops\/s \(target/.test(stderr) && Date.now() < deadline && child.exitCode === null) {
			await new Promise(resolve => setTimeout(resolve, 100));
		}

		expect(stderr).toMatch(/ops\/s \(target/);
		child.kill('SIGTERM');
		const result = await child;
		expect(result.exitCode, stderr).toBe(0);
		const summary = JSON.parse(result.stdout) as LoadSummary;
		expect(summary.stoppedBy).toBe('signal');
		expect(summary.totals.operations).toBeGreaterThan(0);
	}, 60_000);
});
