/**
 * `msdb worker` against real services: this file's database with the framework's schema (the
 * repo's migrations plus sample rows: 20 live sessions, this month's and next month's message
 * partitions) and a private Redis for the heartbeat. Duties run through the built CLI (`--once`,
 * and a long-running worker stopped with SIGTERM) and in process, where a test can break a duty
 * and hold a duty's lock.
 */
import {setTimeout as sleep} from 'node:timers/promises';
import {execa} from 'execa';
import {Redis} from 'ioredis';
import pg from 'pg';
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest';
import {readFleet} from '../source/core/fleet/fleet-reader.js';
import {resolvePoolsConfig} from '../source/core/pools/pool-config.js';
import type {StatusEvent} from '../source/core/status-event.js';
import {SESSION_CLEANUP_LOCK_KEY} from '../source/core/worker/session-cleanup.js';
import {runWorker} from '../source/core/worker/run-worker.js';
import {applyAgentSchema} from './support/postgres-fixtures.js';
import {CLI_PATH, runMsdb} from './support/run-msdb.js';
import {query} from './support/sql.js';
import {createTestDatabase, type TestDatabase} from './support/test-database.js';
import {useTestRedis} from './support/test-redis.js';

const LIVE_SESSIONS = 20;
let database: TestDatabase;
const redis = useTestRedis();

beforeAll(async () => {
	database = await createTestDatabase('worker');
	await applyAgentSchema(database);
});

afterAll(async () => {
	await database?.drop();
});

beforeEach(async () => {
	await query(database.url, 'DELETE FROM sessions.sessions WHERE expires_at <= now()');
});

/** Sessions that expired an hour ago (idle expiry and hard cap both passed). */
async function addExpiredSessions(count: number): Promise<void> {
	await query(
		database.url,
		`INSERT INTO sessions.sessions (token_hash, user_id, created_at, expires_at, absolute_expires_at)
		 SELECT sha256(('expired-' || gen_random_uuid())::bytea), 'gone' || i, now() - interval '2 hours', now() - interval '1 hour', now() - interval '30 minutes'
		 FROM generate_series(1, $1) i`,
		[count],
	);
}

async function sessionCounts(): Promise<{live: number; expired: number}> {
	const [row] = await query(database.url, `SELECT count(*) FILTER (WHERE expires_at > now())::int AS live, count(*) FILTER (WHERE expires_at <= now())::int AS expired FROM sessions.sessions`);
	return row as {live: number; expired: number};
}

/** Partition names of messages.messages for this month and the next `ahead` (UTC), as ensure_partitions names them. */
function monthlyPartitions(ahead: number): string[] {
	const now = new Date();
	return Array.from({length: ahead + 1}, (_, offset) => {
		const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
		return `messages.messages_y${month.getUTCFullYear()}m${String(month.getUTCMonth() + 1).padStart(2, '0')}`;
	});
}

async function existingPartitions(): Promise<string[]> {
	const rows = await query(database.url, `SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = 'messages.messages'::regclass ORDER BY 1`);
	return rows.map(row => row.name as string);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value !== undefined) {
			return value;
		}

		if (Date.now() > deadline) {
			throw new Error(`timed out waiting for ${what}`);
		}

		await sleep(50);
	}
}

describe('msdb worker', () => {
	it('--once: creates the missing monthly partitions, deletes expired sessions in batches, keeps live ones', async () => {
		// Next month's partition exists already (the fixture ran ensure_partitions(1)): only the two after it are missing.
		const [, , ...missing] = monthlyPartitions(3);
		expect(await existingPartitions()).not.toContain(missing[0]);
		await addExpiredSessions(2500);

		const run = await runMsdb(['worker', '--once', '--json'], {cwd: process.cwd(), env: {DATABASE_URL: database.url, REDIS_URL: redis.url}});
		expect(run.exitCode, run.stderr).toBe(0);
		const partitions = run.json.duties['partition-upkeep'];
		const sessions = run.json.duties['session-cleanup'];
		expect(partitions).toMatchObject({runs: 1, completed: 1, failed: 0, partitionsCreated: missing});
		expect(sessions).toMatchObject({runs: 1, completed: 1, failed: 0, sessionsDeleted: 2500});
		expect(run.json).toMatchObject({once: true, heartbeat: {enabled: false}});
		expect(await existingPartitions()).toEqual(expect.arrayContaining(monthlyPartitions(3)));
		expect(await sessionCounts()).toEqual({live: LIVE_SESSIONS, expired: 0});
		expect(run.stderr).toContain(`msdb: partition-upkeep: created ${missing.join(', ')}`);
		expect(run.stderr).toContain('msdb: session-cleanup: deleted 2500 expired session(s)');

		// Nothing left to do: the second run changes nothing.
		const again = await runMsdb(['worker', '--once', '--json'], {cwd: process.cwd(), env: {DATABASE_URL: database.url, REDIS_URL: redis.url}});
		expect(again.exitCode, again.stderr).toBe(0);
		expect(again.json.duties['partition-upkeep'].partitionsCreated).toEqual([]);
		expect(again.json.duties['session-cleanup'].sessionsDeleted).toBe(0);
	});

	it('a duty whose lock another worker holds is skipped, not run twice', async () => {
		await addExpiredSessions(5);
		const holder = new pg.Client({connectionString: database.url});
		await holder.connect();
		try {
			await holder.query('SELECT pg_advisory_lock($1::bigint)', [SESSION_CLEANUP_LOCK_KEY]);
			const events: string[] = [];
			const summary = await runWorker(
				{pools: resolvePoolsConfig({databaseUrl: database.url}, {}), once: true},
				{signal: new AbortController().signal, onEvent: event => events.push(event.message)},
			);
			expect(summary.duties['session-cleanup']).toMatchObject({runs: 1, skipped: 1, completed: 0, failed: 0});
			expect(summary.duties['partition-upkeep']).toMatchObject({completed: 1});
			expect(events.join('\n')).toContain(`session-cleanup: another worker holds its lock (advisory lock ${SESSION_CLEANUP_LOCK_KEY})`);
			expect((await sessionCounts()).expired).toBe(5);
		} finally {
			await holder.end();
		}
	});

	it('on stop, a duty still running after the grace period has its statement cancelled', async () => {
		// ensure_partitions waits for this lock (two callers at once would collide): the run hangs.
		const blocker = new pg.Client({connectionString: database.url});
		await blocker.connect();
		try {
			await blocker.query(`BEGIN; SELECT pg_advisory_xact_lock(hashtext('messages.ensure_partitions'))`);
			const controller = new AbortController();
			const events: string[] = [];
			const worker = runWorker(
				{pools: resolvePoolsConfig({databaseUrl: database.url}, {}), heartbeatIntervalMs: 0, shutdownGraceMs: 100},
				{signal: controller.signal, onEvent: event => events.push(event.message)},
			);
			await until('the partition run to wait for the lock', async () => {
				const [row] = await query(database.url, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'msdb:background' AND wait_event_type = 'Lock'`);
				return row?.n === 1 ? true : undefined;
			});
			controller.abort();
			const summary = await worker;
			expect(summary.duties['partition-upkeep']).toMatchObject({runs: 1, cancelled: 1, failed: 0});
			expect(events.join('\n')).toContain('partition-upkeep: cancelled at shutdown');
		} finally {
			await blocker.end();
		}
	});

	it('a failing duty is reported and retried while the other goes on; the worker survives it', async () => {
		const controller = new AbortController();
		const events: StatusEvent[] = [];
		const said = () => events.map(event => event.message).join('\n');
		// Break partition upkeep the way a missing schema would, with a partition for it to make once fixed.
		const last = monthlyPartitions(3).at(-1)!;
		await query(database.url, `DROP TABLE IF EXISTS ${last}`);
		await query(database.url, 'ALTER FUNCTION messages.ensure_partitions(integer) RENAME TO ensure_partitions_away');
		let restored = false;
		const worker = runWorker(
			{pools: resolvePoolsConfig({databaseUrl: database.url}, {}), partitionIntervalMs: 100, sessionCleanupIntervalMs: 100, heartbeatIntervalMs: 0},
			{signal: controller.signal, onEvent: event => events.push(event)},
		);
		try {
			await until('the partition duty to fail', async () => (said().includes('partition-upkeep: failed') ? true : undefined));
			expect(said()).toMatch(/partition-upkeep: failed: .*ensure_partitions.*msdb migrate apply.*retrying in/);

			// Session cleanup still works meanwhile.
			await addExpiredSessions(3);
			await until('expired sessions to be deleted', async () => ((await sessionCounts()).expired === 0 ? true : undefined));

			await query(database.url, 'ALTER FUNCTION messages.ensure_partitions_away(integer) RENAME TO ensure_partitions');
			restored = true;
			await until('the partition duty to recover', async () => (said().includes(`partition-upkeep: created ${last}`) ? true : undefined));
		} finally {
			controller.abort();
			if (!restored) {
				await query(database.url, 'ALTER FUNCTION messages.ensure_partitions_away(integer) RENAME TO ensure_partitions').catch(() => {});
			}
		}

		const summary = await worker;
		const partitions = summary.duties['partition-upkeep'];
		expect(partitions.failed).toBeGreaterThanOrEqual(1);
		expect(partitions.completed).toBeGreaterThanOrEqual(1);
		expect(partitions.lastError).toBeNull();
		expect(partitions.partitionsCreated).toEqual([last]);
		expect(summary.duties['session-cleanup'].sessionsDeleted).toBeGreaterThanOrEqual(3);
		expect(summary.duties['session-cleanup'].failed).toBe(0);
	});

	it('runs until SIGTERM: heartbeat in the fleet, msdb:background in pg_stat_activity, exit 0 with a summary', async () => {
		const subprocess = execa(process.execPath, [CLI_PATH, 'worker', '--json', '--heartbeat-interval', '200ms', '--session-cleanup-interval', '200ms'], {
			env: {PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: database.url, REDIS_URL: redis.url},
			extendEnv: false,
			reject: false,
			stdin: 'ignore',
		});
		const client = new Redis(redis.url);
		try {
			const instance = await until('the worker in the fleet', async () => (await readFleet(client, {env: 'dev'})).instances.find(candidate => candidate.service === 'msdb worker'));
			expect(instance.pid).toBe(subprocess.pid);
			await until('a heartbeat with the background pool', async () => {
				const current = (await readFleet(client, {env: 'dev'})).instances.find(candidate => candidate.service === 'msdb worker');
				return current?.pools.some(pool => pool.role === 'background' && pool.acquisitions > 0) ? true : undefined;
			});
			const sessions = await query(database.url, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'msdb:background'`);
			expect(sessions[0]?.n).toBeGreaterThanOrEqual(1);

			subprocess.kill('SIGTERM');
			const result = await subprocess;
			expect(result.exitCode, result.stderr).toBe(0);
			const summary = JSON.parse(result.stdout);
			expect(summary).toMatchObject({once: false, heartbeat: {enabled: true, instanceId: instance.instanceId}});
			expect(summary.heartbeat.published).toBeGreaterThanOrEqual(1);
			expect(summary.duties['session-cleanup'].completed).toBeGreaterThanOrEqual(1);
			expect(summary.duties['partition-upkeep'].completed).toBe(1);
			expect(result.stderr).toContain('msdb: stopping:');
			expect(result.stderr).toContain('msdb: worker stopped:');
			// A clean stop withdraws the heartbeat at once.
			expect((await readFleet(client, {env: 'dev'})).instances.map(candidate => candidate.instanceId)).not.toContain(instance.instanceId);
		} finally {
			subprocess.kill('SIGKILL');
			client.disconnect();
		}
	});
});
