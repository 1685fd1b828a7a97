/**
 * The console's restore flow (key r) with ink-testing-library, against real services: a source
 * database with rows and a Redis with keys, backed up by the core into a directory target; a
 * second Redis and a "live" database to restore into. Keys are pressed as an on-call engineer
 * would; the tests check every screen, the confirmations, and what the databases hold afterwards.
 */
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {Redis} from 'ioredis';
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest';
import type {BackupManifest} from '../source/core/backup/backup-manifest-types.js';
import {createBackup} from '../source/core/backup/create-backup.js';
import {DirectoryTarget} from '../source/core/backup/targets/directory-target.js';
import {createRedisClient} from '../source/core/redis/create-redis-client.js';
import {parseRedisUrl} from '../source/core/redis/redis-config.js';
import {formatBytes} from '../source/cli/progress-lines.js';
import type {FlowContext} from '../source/ui/flows/flow-context.js';
import {RestoreFlow} from '../source/ui/flows/restore-flow.js';
import {flowContext, keys, renderFlow} from './support/flow-harness.js';
import {configOf, pgbenchInit} from './support/postgres-fixtures.js';
import {query} from './support/sql.js';
import {createTestDatabase, useTestDatabase, type TestDatabase} from './support/test-database.js';
import {createTestRedis, useTestRedis, type TestRedis} from './support/test-redis.js';


const source = useTestDatabase('ui_flow_restore');
const sourceRedis = useTestRedis();
let destinationRedis: TestRedis;
let live: TestDatabase;
let goodRoot: string;
let good: BackupManifest;
let corruptRoot: string;
let corrupt: BackupManifest;

function databaseUrl(name: string): string {
	const url = new URL(inject('postgresAdminUrl'));
	url.pathname = `/${name}`;
	return url.toString();
}

async function databasesStartingWith(prefix: string): Promise<string[]> {
	const rows = await query<{datname: string}>(inject('postgresAdminUrl'), 'SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1', [prefix]);
	return rows.map(row => row.datname);
}

async function allDatabases(): Promise<string[]> {
	return (await query<{datname: string}>(inject('postgresAdminUrl'), 'SELECT datname FROM pg_database ORDER BY 1')).map(row => row.datname);
}

async function withRedis<T>(url: string, work: (client: Redis) => Promise<T>): Promise<T> {
	const client = new Redis(url);
	try {
		return await work(client);
	} finally {
		client.disconnect();
	}
}

async function backUp(root: string, components: Array<'postgres' | 'redis'>): Promise<BackupManifest> {
	const endpoint = parseRedisUrl(sourceRedis.url, 'default');
	const {client} = createRedisClient(endpoint, {connectionName: 'msdb:test', commandTimeoutMs: 20_000});
	try {
		return await createBackup({
			target: new DirectoryTarget(root),
			components,
			database: configOf(source.url),
			redis: components.includes('redis') ? {endpoint, client, mode: 'auto'} : undefined,
		});
	} finally {
		client.disconnect();
	}
}

beforeAll(async () => {
	await query(source.url, 'CREATE TABLE agents_demo (id int PRIMARY KEY, name text NOT NULL)');
	await query(source.url, "INSERT INTO agents_demo SELECT i, 'agent-' || i FROM generate_series(1, 25) i");
	await withRedis(sourceRedis.url, async client => {
		await client.set('agent:1', 'idle');
		await client.hset('agent:2', {status: 'busy', task: '7'});
		await client.rpush('queue:tasks', 't1', 't2', 't3');
		if (inject('redisSource') === 'local') {
			// A private server: skip Redis 7's 5 s wait for more replicas before a diskless sync.
			await client.config('SET', 'repl-diskless-sync-delay', '0');
		}
	});
	goodRoot = await mkdtemp(path.join(tmpdir(), 'msdb-ui-restore-'));
	good = await backUp(goodRoot, ['postgres', 'redis']);
	corruptRoot = await mkdtemp(path.join(tmpdir(), 'msdb-ui-restore-corrupt-'));
	corrupt = await backUp(corruptRoot, ['postgres']);
	const dump = path.join(corruptRoot, corrupt.postgres?.artifact.key ?? '');
	const bytes = await readFile(dump);
	const index = Math.floor(bytes.length / 2);
	bytes[index] = (bytes[index] ?? 0) ^ 0xff;
	await writeFile(dump, bytes);
	destinationRedis = await createTestRedis();
	// Short: the aside copy's name (<live>_pre_restore_<time>) must not need shortening to 63 bytes.
	live = await createTestDatabase('uirl');
	await query(live.url, 'CREATE TABLE before_restore (id int)');
});

afterAll(async () => {
	// Every database a restore made starts with the name of the database it came from or replaced.
	for (const prefix of [source.name, live?.name].filter(Boolean) as string[]) {
		for (const name of await databasesStartingWith(`${prefix}_`)) {
			await query(inject('postgresAdminUrl'), `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
		}
	}

	await live?.drop();
	await destinationRedis?.stop();
	await Promise.all([goodRoot, corruptRoot].filter(Boolean).map(async root => rm(root, {recursive: true, force: true})));
});

function contextFor(overrides: Partial<FlowContext>): FlowContext {
	return flowContext(source.url, {redisUrl: destinationRedis.url, backupTarget: goodRoot, env: {}, ...overrides});
}

/** Verifying and restoring real data can take a while on a busy machine: waits last up to 30 s. */
function open(context: FlowContext) {
	return renderFlow(RestoreFlow, context, {height: 40, timeoutMs: 30_000});
}

/** Frames join lines wrapped at 100 columns; checks read them as one paragraph. */
function flat(text: string): string {
	return text.replace(/\s+/g, ' ');
}

describe('RestoreFlow', () => {
	it('lists the backups with age, size, components and verification; esc leaves with nothing changed', async () => {
		const flow = open(contextFor({}));
		await flow.waitForFrame('verify this backup');
		const frame = flow.frame();
		expect(frame).toContain('Restore · step 1 of 6: Choose a backup');
		expect(frame).toMatch(/ID\s+AGE\s+SIZE\s+COMPONENTS\s+VERIFIED/);
		const row = frame.split('\n').find(line => line.includes(good.id)) ?? '';
		expect(row).toMatch(/^› /);
		expect(row).toContain('0 min');
		expect(row).toContain(formatBytes((good.postgres?.artifact.bytes ?? 0) + (good.redis?.artifact.bytes ?? 0)));
		expect(row).toContain('postgres + redis');
		expect(row).toMatch(/never$/);
		expect(frame).toMatch(/↑\/↓\s+move\s+enter\s+verify this backup\s+esc\s+back/);
		await flow.press(keys.escape);
		expect(flow.onExit).toHaveBeenCalledTimes(1);
		expect(flow.onExit).toHaveBeenCalledWith({status: 'cancelled', summary: 'restore: nothing was changed'});
		flow.unmount();
	});

	it('verifies with progress, restores into a new database and a flushed Redis (typed), and shows the checks and next steps', async () => {
		await withRedis(destinationRedis.url, async client => client.set('stray:key', 'not in the backup'));
		const before = await databasesStartingWith(`${source.name}_`);
		const flow = open(contextFor({}));
		await flow.waitForFrame('verify this backup');
		await flow.press(keys.enter);
		await flow.waitForFrame('Restore it into', 30_000);
		const verifying = flow.allFrames();
		expect(verifying).toContain('step 2 of 6: Verify it');
		expect(verifying).toMatch(/verify postgres: \S+\/postgres\.dump/);
		expect(verifying).toMatch(/verify redis: \S+\/redis\.data/);
		expect(flow.frame()).toContain('✔ Verified just now');
		expect(flow.frame()).toContain('step 3 of 6: Choose where');
		expect(flow.frame()).toContain('New database beside the live one');
		expect(flow.frame()).toMatch(/enter\s+choose\s+esc\s+back to the list/);

		await flow.press(keys.enter);
		await flow.waitForFrame('Leave Redis out');
		await flow.press(keys.down);
		await flow.press(keys.enter);
		await flow.waitForFrame('step 4 of 6: Review and confirm');
		const redisName = parseRedisUrl(destinationRedis.url, 'default');
		const address = redisName.kind === 'standalone' ? `${redisName.host}:${redisName.port}` : '';
		expect(flat(flow.frame())).toContain('restored into a NEW database beside the live one');
		expect(flat(flow.frame())).toContain('EVERY database of');
		expect(flat(flow.frame())).toContain(`you will type "${address}" to confirm`);

		// The flush is destructive: a wrong address and enter do nothing.
		await flow.press(keys.enter);
		await flow.waitForFrame('and press enter to confirm');
		await flow.press('127.0.0.1:1');
		await flow.press(keys.enter);
		await flow.waitForFrame('does not match');
		expect(await withRedis(destinationRedis.url, async client => client.get('stray:key'))).toBe('not in the backup');
		expect(await databasesStartingWith(`${source.name}_`)).toEqual(before);

		for (let index = 0; index < '127.0.0.1:1'.length; index++) {
			await flow.press(keys.backspace);
		}

		await flow.press(address);
		await flow.press(keys.enter);
		await flow.waitForFrame('Checks after the restore', 60_000);
		const running = flow.allFrames();
		expect(running).toContain('step 5 of 6: Restore');
		expect(running).toContain('esc cancel the restore');
		const summary = flat(flow.frame());
		expect(summary).toContain(`Backup ${good.id} restored.`);
		expect(summary).toContain('✔ PostgreSQL row counts match the backup in all 1 table(s).');
		expect(summary).toContain('✔ Redis key counts match the backup.');
		expect(summary).toContain('3 key(s) restored');
		expect(summary).toContain('Next steps');
		expect(summary).toContain('Point DATABASE_URL at it');

		const [restored, ...more] = (await databasesStartingWith(`${source.name}_`)).filter(name => !before.includes(name));
		expect(more).toEqual([]);
		expect(restored).toMatch(new RegExp(`^${source.name}_restore_`));
		expect(summary).toContain(`the data is in "${restored}"`);
		expect((await query(databaseUrl(restored ?? ''), 'SELECT count(*)::int AS n FROM agents_demo'))[0].n).toBe(25);
		await withRedis(destinationRedis.url, async client => {
			expect(await client.exists('stray:key')).toBe(0);
			expect(await client.get('agent:1')).toBe('idle');
			expect(await client.lrange('queue:tasks', 0, -1)).toEqual(['t1', 't2', 't3']);
		});

		await flow.press(keys.enter);
		expect(flow.onExit).toHaveBeenCalledTimes(1);
		expect(flow.onExit).toHaveBeenCalledWith({status: 'done', summary: expect.stringContaining(`restored backup ${good.id}: PostgreSQL into "${restored}"`)});
		flow.unmount();
	});

	it('replace: a wrong name changes nothing; the right one swaps the copy in, keeps the old database aside and says how to switch back', async () => {
		const flow = open(contextFor({database: configOf(live.url)}));
		await flow.waitForFrame('verify this backup');
		// The verification of the previous test is recorded beside the manifest.
		expect(flow.frame().split('\n').find(line => line.includes(good.id))).toMatch(/✔ 0 min ago$/);
		await flow.press(keys.enter);
		await flow.waitForFrame('Restore it into', 30_000);
		await flow.press(keys.down);
		await flow.press(keys.enter);
		await flow.waitForFrame('Leave Redis out', 30_000);
		await flow.press(keys.down);
		await flow.press(keys.down);
		await flow.press(keys.enter);
		await flow.waitForFrame('step 4 of 6');
		const review = flat(flow.frame());
		expect(review).toContain(`the sessions on "${live.name}" are ended and the restored copy takes its name`);
		expect(review).toContain(`kept aside as ${live.name}_pre_restore_<time>`);
		expect(review).toContain('Redis: not restored.');
		expect(review).toContain(`you will type "${live.name}" to confirm`);
		expect(review).toMatch(/enter continue: type the name to confirm/);

		await flow.press(keys.enter);
		await flow.waitForFrame('and press enter to confirm');
		expect(flat(flow.frame())).toContain(`This REPLACES the live database "${live.name}"`);
		await flow.press(live.name.slice(0, -1));
		await flow.press(keys.enter);
		await flow.waitForFrame('does not match');
		await flow.press(keys.escape);
		await flow.waitForFrame('Not confirmed: nothing was changed.');
		expect(await databasesStartingWith(`${live.name}_`)).toEqual([]);
		expect((await query(live.url, "SELECT to_regclass('public.before_restore') IS NOT NULL AS kept"))[0].kept).toBe(true);

		await flow.press(keys.enter);
		await flow.waitForFrame('and press enter to confirm');
		await flow.press(live.name);
		await flow.press(keys.enter);
		await flow.waitForFrame('Checks after the restore', 60_000);
		const [aside, ...others] = await databasesStartingWith(`${live.name}_`);
		expect(others).toEqual([]);
		expect(aside).toMatch(new RegExp(`^${live.name}_pre_restore_`));
		const summary = flat(flow.frame());
		expect(summary).toContain(`the data is in "${live.name}"; the previous database is kept as "${aside}"`);
		expect(summary).toContain('✔ PostgreSQL row counts match the backup');
		expect(summary).toContain('To switch back, run (connected to another database):');
		// The statements stand on lines of their own, ready to copy.
		expect(flow.frame()).toMatch(/^\s+BEGIN;$/m);
		expect(flow.frame()).toMatch(/^\s+SELECT pg_terminate_backend\(pid\)/m);
		expect(summary).toContain(`ALTER DATABASE "${aside}" RENAME TO "${live.name}";`);
		expect((await query(live.url, 'SELECT count(*)::int AS n FROM agents_demo'))[0].n).toBe(25);
		expect((await query(live.url, "SELECT to_regclass('public.before_restore') IS NOT NULL AS kept"))[0].kept).toBe(false);
		expect((await query(databaseUrl(aside ?? ''), "SELECT to_regclass('public.before_restore') IS NOT NULL AS kept"))[0].kept).toBe(true);

		await flow.press(keys.escape);
		expect(flow.onExit).toHaveBeenCalledTimes(1);
		expect(flow.onExit).toHaveBeenCalledWith({status: 'done', summary: expect.stringContaining(`previous kept as "${aside}"`)});
		flow.unmount();
	});

	it('a corrupted artifact fails verification: nothing is touched, the failure and its next step are shown', async () => {
		const before = await allDatabases();
		const flow = open(contextFor({backupTarget: corruptRoot}));
		await flow.waitForFrame('verify this backup');
		await flow.press(keys.enter);
		await flow.waitForFrame('failed verification', 30_000);
		const frame = flat(flow.frame());
		expect(frame).toContain('Nothing was touched: no database or Redis was changed.');
		expect(frame).toContain(corrupt.postgres?.artifact.key ?? '?');
		expect(frame).toContain(`→ Restore an earlier backup (esc, then choose it), or investigate with \`msdb backup verify ${corrupt.id}\``);
		expect(frame).toMatch(/esc back to the list/);
		expect(await allDatabases()).toEqual(before);

		await flow.press(keys.escape);
		await flow.waitForFrame('verify this backup');
		expect(flow.frame().split('\n').find(line => line.includes(corrupt.id))).toMatch(/✖ failed 0 min ago$/);
		await flow.press(keys.escape);
		expect(flow.onExit).toHaveBeenCalledWith({status: 'cancelled', summary: 'restore: nothing was changed'});
		flow.unmount();
	});

	it('without a Redis URL leaves Redis out and says why; esc walks back step by step', async () => {
		const flow = open(contextFor({redisUrl: undefined}));
		await flow.waitForFrame('verify this backup');
		await flow.press(keys.enter);
		await flow.waitForFrame('Restore it into', 30_000);
		expect(flow.frame()).not.toContain('Leave PostgreSQL out');
		await flow.press(keys.enter);
		await flow.waitForFrame('step 4 of 6');
		expect(flat(flow.frame())).toContain('Redis: not offered: no Redis URL is configured (--redis-url or REDIS_URL).');
		expect(flow.frame()).toContain('Nothing existing is replaced or emptied.');
		expect(flow.frame()).toMatch(/enter\s+start the restore\s+esc\s+back/);
		await flow.press(keys.escape);
		await flow.waitForFrame('Restore it into');
		await flow.press(keys.escape);
		await flow.waitForFrame('verify this backup');
		await flow.press(keys.escape);
		expect(flow.onExit).toHaveBeenCalledTimes(1);
		expect(flow.onExit).toHaveBeenCalledWith({status: 'cancelled', summary: 'restore: nothing was changed'});
		flow.unmount();
	});

	it('refuses under --readonly', async () => {
		const flow = open(contextFor({readonly: true}));
		await flow.waitForFrame('Restore is not offered');
		expect(flow.frame()).toContain('--readonly');
		expect(flow.frame()).not.toContain(good.id);
		expect(flow.frame()).toMatch(/esc\s+back/);
		await flow.press(keys.enter);
		expect(flow.onExit).not.toHaveBeenCalled();
		await flow.press(keys.escape);
		expect(flow.onExit).toHaveBeenCalledTimes(1);
		expect(flow.onExit).toHaveBeenCalledWith({status: 'cancelled', summary: 'restore is not offered in read-only mode'});
		flow.unmount();
	});

	it('with no target configured says so and how to set one', async () => {
		const flow = open(contextFor({backupTarget: undefined}));
		await flow.waitForFrame('No backup target is configured');
		expect(flow.frame()).toContain('--target s3://bucket/prefix');
		expect(flow.frame()).toContain('MSDB_BACKUP_TARGET');
		await flow.press(keys.escape);
		expect(flow.onExit).toHaveBeenCalledWith({status: 'cancelled', summary: 'no backup target configured'});
		flow.unmount();
	});

	describe('cancelled mid-restore', () => {
		let big: TestDatabase;
		let bigRoot: string;
		beforeAll(async () => {
			// Large enough that pg_restore is still running when esc arrives.
			big = await createTestDatabase('uirb');
			await pgbenchInit(big, 5);
			bigRoot = await mkdtemp(path.join(tmpdir(), 'msdb-ui-restore-big-'));
			await createBackup({target: new DirectoryTarget(bigRoot), components: ['postgres'], database: configOf(big.url)});
		});
		afterAll(async () => {
			for (const name of big ? await databasesStartingWith(`${big.name}_`) : []) {
				await query(inject('postgresAdminUrl'), `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
			}

			await big?.drop();
			await rm(bigRoot, {recursive: true, force: true});
		});

		it('esc while restoring cancels through the core: the half-restored database is dropped, and it says so', async () => {
			const flow = open(contextFor({backupTarget: bigRoot, database: configOf(big.url), redisUrl: undefined}));
			await flow.waitForFrame('verify this backup');
			await flow.press(keys.enter);
			await flow.waitForFrame('Restore it into', 30_000);
			await flow.press(keys.enter);
			await flow.waitForFrame('start the restore');
			await flow.press(keys.enter);
			await flow.waitForFrame(/restore postgres: \S+\/postgres\.dump/, 30_000);
			await flow.press(keys.escape);
			await flow.waitForFrame('The restore was cancelled', 30_000);
			expect(flow.allFrames()).toContain('Cancelling: stopping the restore and dropping what it created');
			expect(flow.frame()).toContain('Cancelled.');
			expect(await databasesStartingWith(`${big.name}_`)).toEqual([]);
			expect((await query(big.url, 'SELECT count(*)::int AS n FROM pgbench_accounts'))[0].n).toBe(500_000);
			await flow.press(keys.escape);
			expect(flow.onExit).toHaveBeenCalledTimes(1);
			expect(flow.onExit).toHaveBeenCalledWith({status: 'cancelled', summary: expect.stringMatching(/^restore of \S+ cancelled$/)});
			flow.unmount();
		});
	});

	it('a target that cannot be read shows the error; esc leaves', async () => {
		const file = path.join(goodRoot, 'not-a-directory');
		await writeFile(file, 'x');
		const flow = open(contextFor({backupTarget: file}));
		await flow.waitForFrame(/\(E_[A-Z_]+\)/);
		expect(flow.frame()).toContain('✖ ');
		await flow.press(keys.escape);
		expect(flow.onExit).toHaveBeenCalledWith({status: 'failed', summary: expect.stringMatching(/^restore: could not list the backups: /)});
		flow.unmount();
	});
});
