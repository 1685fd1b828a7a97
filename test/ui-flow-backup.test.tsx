/**
 * The console's backup flow (key b) with ink-testing-library, against real services: a fresh
 * database with rows, a private Redis with keys, and a directory target in a temp dir. Keys are
 * pressed as a person would; the tests check each screen, what was written, and what onExit got.
 */
import {mkdtemp, readdir, readFile, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {render} from 'ink-testing-library';
import {Redis} from 'ioredis';
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest';
import type {FlowContext} from '../source/ui/flows/flow-context.js';
import {formatEta, TransferProgress} from '../source/ui/components/transfer-progress.js';
import {BackupFlow} from '../source/ui/flows/backup-flow.js';
import {flowContext, keys, renderFlow} from './support/flow-harness.js';
import {configOf, pgbenchInit} from './support/postgres-fixtures.js';
import {query} from './support/sql.js';
import {createTestDatabase, useTestDatabase, type TestDatabase} from './support/test-database.js';
import {useTestRedis} from './support/test-redis.js';


const source = useTestDatabase('ui_flow_backup');
const redis = useTestRedis();
const roots: string[] = [];

beforeAll(async () => {
	await query(source.url, 'CREATE TABLE agents_demo (id int PRIMARY KEY, name text NOT NULL)');
	await query(source.url, "INSERT INTO agents_demo SELECT i, 'agent-' || i FROM generate_series(1, 25) i");
	const client = new Redis(redis.url);
	try {
		await client.set('agent:1', 'idle');
		await client.hset('agent:2', {status: 'busy', task: '7'});
		if (inject('redisSource') === 'local') {
			// A private server: skip Redis 7's 5 s wait for more replicas before a diskless sync.
			await client.config('SET', 'repl-diskless-sync-delay', '0');
		}
	} finally {
		client.disconnect();
	}
});

afterAll(async () => {
	await Promise.all(roots.map(async root => rm(root, {recursive: true, force: true})));
});

async function newRoot(): Promise<string> {
	const root = await mkdtemp(path.join(tmpdir(), 'msdb-ui-backup-'));
	roots.push(root);
	return root;
}

/** Every file (not folder) under `root`, relative. */
async function filesUnder(root: string): Promise<string[]> {
	const entries = await readdir(root, {recursive: true, withFileTypes: true});
	return entries.filter(entry => entry.isFile()).map(entry => path.relative(root, path.join(entry.parentPath, entry.name)));
}

function contextFor(overrides: Partial<FlowContext>): FlowContext {
	return flowContext(source.url, {redisUrl: redis.url, env: {}, ...overrides});
}

/** Backing up real data can take a while on a busy machine: waits last up to 30 s. */
function open(context: FlowContext) {
	return renderFlow(BackupFlow, context, {timeoutMs: 30_000});
}

describe('TransferProgress (a bar per artifact)', () => {
	it('draws a bar with bytes of total, rate and time left when the total is known', () => {
		const {lastFrame, unmount} = render(<TransferProgress label="upload postgres: b1/postgres.dump" bytes={512} totalBytes={1024} bytesPerSecond={256} etaSeconds={2} barWidth={20} />);
		const frame = lastFrame() ?? '';
		expect(frame).toContain('upload postgres: b1/postgres.dump');
		expect(frame).toMatch(/█{10}░{10}/);
		expect(frame).toContain('50% 512 B / 1.00 KiB · 256 B/s · 2 s left');
		unmount();
	});

	it('shows bytes and rate beside a spinner while the total is unknown', () => {
		const {lastFrame, unmount} = render(<TransferProgress label="upload redis: b1/redis.data" bytes={3 * 1024 * 1024} totalBytes={null} bytesPerSecond={1024 * 1024} etaSeconds={null} />);
		const frame = lastFrame() ?? '';
		expect(frame).toContain('3.00 MiB · 1.00 MiB/s · total not known until the end');
		expect(frame).not.toContain('%');
		unmount();
	});

	it('collapses to one line with size and time when done', () => {
		const {lastFrame, unmount} = render(<TransferProgress label="verify redis: b1/redis.data" bytes={2048} totalBytes={2048} bytesPerSecond={4096} etaSeconds={0} elapsedMs={1500} />);
		expect(lastFrame()).toBe('✔ verify redis: b1/redis.data  2.00 KiB in 1.50 s');
		unmount();
	});

	it('rounds time left up, so it never says 0 s while work remains', () => {
		expect(formatEta(0.2)).toBe('1 s');
		expect(formatEta(75)).toBe('1 min 15 s');
		expect(formatEta(3700)).toBe('1 h 1 min');
	});
});

describe('BackupFlow', () => {
	it('backs up both components with a bar per artifact, then shows the id and location; the manifest is there', async () => {
		const root = await newRoot();
		const flow = open(contextFor({backupTarget: root}));
		await flow.waitForFrame('start the backup');
		expect(flow.frame()).toContain(`Back up to ${root}`);
		expect(flow.frame()).toMatch(/PostgreSQL .*pg_dump/);
		expect(flow.frame()).toMatch(/Redis .*RDB over replication/);
		expect(flow.frame()).toMatch(/space\s+select/);
		await flow.press(keys.enter);
		await flow.waitForFrame('Backing up postgres + redis');
		expect(flow.frame()).toContain('esc cancel the backup');
		await flow.waitForFrame('✔ Backup', 60_000);

		const [id, ...others] = await readdir(root);
		expect(others).toEqual([]);
		const manifest = JSON.parse(await readFile(path.join(root, id ?? '', 'manifest.json'), 'utf8'));
		expect(manifest.components).toEqual(['postgres', 'redis']);
		const summary = flow.frame();
		expect(summary).toContain(`Backup ${manifest.id} written`);
		expect(summary).toContain(`Location: ${root}/${manifest.id}/`);
		expect(summary).toContain(`${root}/${manifest.id}/manifest.json`);
		expect(summary).toMatch(/postgres\s+\S+\/postgres\.dump/);
		expect(summary).toMatch(/redis\s+\S+\/redis\.data\s+.*2 keys/);
		expect(summary).toContain(`msdb backup verify ${manifest.id} --drill`);
		expect(summary).toMatch(/enter\s+done/);

		// Progress: a line per artifact with its bytes and rate while it ran.
		const seen = flow.allFrames();
		expect(seen).toMatch(/upload postgres: \S+\/postgres\.dump/);
		expect(seen).toMatch(/upload redis: \S+\/redis\.data/);
		expect(seen).toMatch(/\d+(\.\d+)? (B|KiB|MiB)\/s/);

		await flow.press(keys.enter);
		expect(flow.onExit).toHaveBeenCalledTimes(1);
		expect(flow.onExit).toHaveBeenCalledWith({status: 'done', summary: expect.stringContaining(`backup ${manifest.id} written to ${root}`)});
		flow.unmount();
	});

	it('backs up PostgreSQL alone when Redis is deselected', async () => {
		const root = await newRoot();
		const flow = open(contextFor({backupTarget: root}));
		await flow.waitForFrame('start the backup');
		await flow.press(keys.down);
		await flow.press(' ');
		await flow.press(keys.enter);
		await flow.waitForFrame('Backing up postgres…');
		await flow.waitForFrame('✔ Backup', 60_000);
		const [id] = await readdir(root);
		const manifest = JSON.parse(await readFile(path.join(root, id ?? '', 'manifest.json'), 'utf8'));
		expect(manifest.components).toEqual(['postgres']);
		expect(manifest.postgres.rowCounts['public.agents_demo']).toBe(25);
		expect(flow.frame()).not.toMatch(/^redis\s/m);
		await flow.press(keys.escape);
		expect(flow.onExit).toHaveBeenCalledWith({status: 'done', summary: expect.stringContaining(manifest.id)});
		flow.unmount();
	});

	it('esc before the start writes nothing; an empty choice is refused with a hint', async () => {
		const root = await newRoot();
		const flow = open(contextFor({backupTarget: root}));
		await flow.waitForFrame('start the backup');
		await flow.press(' ');
		await flow.press(keys.down);
		await flow.press(' ');
		await flow.press(keys.enter);
		await flow.waitForFrame('Choose at least one component');
		await flow.press(keys.escape);
		expect(flow.onExit).toHaveBeenCalledTimes(1);
		expect(flow.onExit).toHaveBeenCalledWith({status: 'cancelled', summary: 'backup not started; nothing was written'});
		expect(await readdir(root)).toEqual([]);
		flow.unmount();
	});

	it('without a Redis URL offers PostgreSQL only and says why', async () => {
		const root = await newRoot();
		const flow = open(contextFor({backupTarget: root, redisUrl: undefined}));
		await flow.waitForFrame('start the backup');
		expect(flow.frame()).not.toMatch(/RDB over replication/);
		expect(flow.frame()).toContain('Redis is not offered: no Redis URL is configured (--redis-url or REDIS_URL).');
		await flow.press(keys.escape);
		expect(flow.onExit).toHaveBeenCalledWith(expect.objectContaining({status: 'cancelled'}));
		flow.unmount();
	});

	it('with no target configured says so and how to set one; esc goes back', async () => {
		const flow = open(contextFor({backupTarget: undefined}));
		await flow.waitForFrame('No backup target is configured');
		expect(flow.frame()).toContain('--target s3://bucket/prefix');
		expect(flow.frame()).toContain('MSDB_BACKUP_TARGET');
		expect(flow.frame()).toMatch(/esc\s+back/);
		await flow.press(keys.escape);
		expect(flow.onExit).toHaveBeenCalledTimes(1);
		expect(flow.onExit).toHaveBeenCalledWith({status: 'cancelled', summary: 'no backup target configured'});
		flow.unmount();
	});

	it('shows a failure with its next step, redacted, and leaves nothing behind', async () => {
		const root = await newRoot();
		// Nothing listens on port 1: the dump cannot start.
		const unreachable = configOf('postgres://msdb:s3cr3t-ui-pw@127.0.0.1:1/nowhere');
		const flow = open(contextFor({backupTarget: root, database: unreachable, redisUrl: undefined}));
		await flow.waitForFrame('start the backup');
		await flow.press(keys.enter);
		await flow.waitForFrame('No manifest was written', 30_000);
		const frame = flow.frame();
		expect(frame).toMatch(/✖ /);
		expect(frame).toMatch(/→ /);
		expect(frame).toMatch(/\(E_[A-Z_]+\)/);
		expect(flow.allFrames()).not.toContain('s3cr3t-ui-pw');
		expect(await filesUnder(root)).toEqual([]);
		await flow.press(keys.escape);
		expect(flow.onExit).toHaveBeenCalledWith({status: 'failed', summary: expect.stringMatching(/^backup failed: /)});
		flow.unmount();
	});

	describe('cancelled mid-run', () => {
		let big: TestDatabase;
		beforeAll(async () => {
			// Large enough that the dump is still streaming when esc arrives.
			big = await createTestDatabase('ui_flow_backup_big');
			await pgbenchInit(big, 5);
		});
		afterAll(async () => {
			await big?.drop();
		});

		it('esc during the run cancels through the core: nothing is kept, and it says so', async () => {
			const root = await newRoot();
			const flow = open(contextFor({backupTarget: root, database: configOf(big.url), redisUrl: undefined}));
			await flow.waitForFrame('start the backup');
			await flow.press(keys.enter);
			await flow.waitForFrame(/upload postgres: \S+\/postgres\.dump/);
			await flow.press(keys.escape);
			await flow.waitForFrame('Nothing was kept', 30_000);
			expect(flow.allFrames()).toContain('Cancelling: stopping the transfer');
			expect(flow.frame()).toContain('Cancelled.');
			// No file at all, no manifest: at most an empty folder, which no listing takes for a backup.
			expect(await filesUnder(root)).toEqual([]);
			await flow.press(keys.escape);
			expect(flow.onExit).toHaveBeenCalledTimes(1);
			expect(flow.onExit).toHaveBeenCalledWith({status: 'cancelled', summary: 'backup cancelled; nothing was kept'});
			flow.unmount();
		});
	});
});
