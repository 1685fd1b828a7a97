/**
 * The built console (build/bundle/msdb.js, what the package's bin runs) driven through tmux like
 * a person, at 80×24 and 160×48, against real services: a fresh database (so the repo's
 * migrations are all pending), a private Redis and a directory backup target. It reads the
 * dashboard's gauges and the cache rates of a heartbeat it publishes (since start, then over the
 * last interval once a second one arrives), runs the migrate and backup flows to the end by the
 * keys their footers name, opens a reset and backs out of it, and quits; the terminal must then
 * show the shell's own screen again. Every screen it checks is kept as plain text under
 * test-artifacts/console/<columns>x<rows>/<screen>.txt (the failing screen as failure-<n>.txt).
 *
 * Needs `npm run build` first (npm test builds). Skipped only when tmux is not installed.
 */
import {randomBytes} from 'node:crypto';
import {mkdir, mkdtemp, readdir, rm, stat, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {fileURLToPath} from 'node:url';
import {execa} from 'execa';
import {Redis} from 'ioredis';
import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {FleetKeyspace} from '../source/core/fleet/fleet-keyspace.js';
import type {HeartbeatSnapshot} from '../source/core/fleet/heartbeat-snapshot.js';
import {LEDGER_TABLE} from '../source/core/migrations/migration-ledger.js';
import {CLI_PATH} from './support/run-msdb.js';
import {useTestDatabase} from './support/test-database.js';
import {useTestRedis} from './support/test-redis.js';
import {query} from './support/sql.js';

const REPO_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
const REPO_ROLLBACKS = fileURLToPath(new URL('../rollbacks', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/console', import.meta.url));
const SIZES = [
	{columns: 80, rows: 24},
	{columns: 160, rows: 48},
] as const;
/** Variables of the developer's shell that would point msdb elsewhere or change how Ink draws. */
const SCRUBBED = ['DATABASE_URL', 'REDIS_URL', 'PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGPASSWORD', 'PGHOSTADDR', 'PGSERVICE', 'MSDB_ENV', 'MSDB_ACTOR', 'MSDB_BACKUP_TARGET', 'NATS_URL'];
/** Two cores shared with other test files: a screen may take a while, so waits are long and never timed. */
const SCREEN_DEADLINE_MS = 90_000;

const hasTmux = (await execa('tmux', ['-V'], {reject: false})).exitCode === 0;

/** `'…'` for sh, whatever the value holds. */
function quote(value: string): string {
	return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** A private tmux server (its own socket, no config file): nothing of the developer's sessions is touched. */
class Terminal {
	readonly #socket = `msdb-e2e-${randomBytes(4).toString('hex')}`;
	readonly #artifacts: string;
	#failures = 0;

	constructor(artifacts: string) {
		this.#artifacts = artifacts;
	}

	async tmux(...args: string[]) {
		const env: NodeJS.ProcessEnv = {...process.env, CI: 'false'};
		for (const name of SCRUBBED) {
			delete env[name];
		}

		return execa('tmux', ['-L', this.#socket, '-f', '/dev/null', ...args], {reject: false, env, extendEnv: false});
	}

	/** Starts `command` (sh) in a detached session of the given size. */
	async start(session: string, size: {columns: number; rows: number}, command: string): Promise<void> {
		const started = await this.tmux('new-session', '-d', '-s', session, '-x', String(size.columns), '-y', String(size.rows), command);
		expect(started.exitCode, started.stderr).toBe(0);
	}

	/** What the pane shows now, without colours. */
	async screen(session: string): Promise<string> {
		return (await this.tmux('capture-pane', '-p', '-t', session)).stdout;
	}

	/** Waits until the pane shows what `check` wants; on a timeout keeps the screen as an artifact and fails with it. */
	async until(session: string, what: string, check: (text: string) => boolean): Promise<string> {
		const deadline = Date.now() + SCREEN_DEADLINE_MS;
		for (;;) {
			const text = await this.screen(session);
			if (check(text)) {
				return text;
			}

			if (Date.now() > deadline) {
				this.#failures++;
				await this.keep(`failure-${this.#failures}`, `waiting for: ${what}\n\n${text}`);
				throw new Error(`timed out waiting for ${what}; the screen:\n${text}`);
			}

			await sleep(150);
		}
	}

	async press(session: string, ...keys: string[]): Promise<void> {
		await this.tmux('send-keys', '-t', session, ...keys);
	}

	/** Types text as keystrokes, literally (no key names). */
	async type(session: string, text: string): Promise<void> {
		await this.tmux('send-keys', '-t', session, '-l', text);
	}

	/** Writes a screen to test-artifacts/console/<size>/<name>.txt. */
	async keep(name: string, text: string): Promise<void> {
		await mkdir(this.#artifacts, {recursive: true});
		await writeFile(path.join(this.#artifacts, `${name}.txt`), `${text}\n`);
	}

	async stop(): Promise<void> {
		await this.tmux('kill-server');
	}
}

/** The screen as one line: prose wraps differently at each width. */
function flat(text: string): string {
	return text.replace(/\s+/g, ' ');
}

/**
 * Publishes a framework process's heartbeat (fleet `dev`, the console's default) with one cache
 * namespace, as HeartbeatPublisher would: counters are running totals since the process started.
 */
async function publishHeartbeat(url: string, publishedAt: Date, l1: {hits: number; misses: number}): Promise<void> {
	const keyspace = new FleetKeyspace('dev');
	const instanceId = 'e2e-host:1:abc';
	const snapshot: HeartbeatSnapshot = {
		format: 1,
		instanceId,
		service: 'agent-runtime',
		host: 'e2e-host',
		pid: 1,
		version: '0.1.0',
		startedAt: new Date(publishedAt.getTime() - 3_600_000).toISOString(),
		publishedAt: publishedAt.toISOString(),
		intervalMs: 5000,
		pools: [],
		caches: [{namespace: 'agents', l1: {...l1, entries: 10, bytes: 1000}, l2: {hits: 0, misses: 0, unavailable: 0, breaker: 'closed'}, l3: {loads: 0, loadErrors: 0}}],
		redis: [],
	};
	const client = new Redis(url);
	try {
		await client.set(keyspace.instance(instanceId), JSON.stringify(snapshot), 'PX', 600_000);
		await client.zadd(keyspace.indexKey, Date.now() + 600_000, instanceId);
	} finally {
		client.disconnect();
	}
}


/** Tables in the database outside the system schemas: what a reset would drop. */
async function userTables(url: string): Promise<string[]> {
	const rows = await query<{name: string}>(
		url,
		`SELECT schemaname || '.' || tablename AS name FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
	);
	return rows.map(row => row.name);
}

describe.skipIf(!hasTmux)('the built console driven through tmux', () => {
	let migrationFiles: number;
	beforeAll(async () => {
		await stat(CLI_PATH).catch(() => {
			throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first.`);
		});
		migrationFiles = (await readdir(REPO_MIGRATIONS)).filter(name => /^\d+_.+\.sql$/.test(name)).length;
	});

	for (const size of SIZES) {
		const label = `${size.columns}x${size.rows}`;
		describe(`at ${size.columns}×${size.rows}`, () => {
			const database = useTestDatabase(`console_e2e_${label}`);
			const redis = useTestRedis();
			let target: string;
			beforeAll(async () => {
				target = await mkdtemp(path.join(tmpdir(), `msdb-console-e2e-${label}-`));
				await rm(path.join(ARTIFACTS, label), {recursive: true, force: true});
			});
			afterAll(async () => {
				await rm(target, {recursive: true, force: true});
			});

			it('shows real gauges, migrates, backs up, backs out of a reset and quits leaving the terminal restored', {timeout: 600_000}, async () => {
				const terminal = new Terminal(path.join(ARTIFACTS, label));
				const session = 'console';
				const environment = [`DATABASE_URL=${quote(database.url)}`, `REDIS_URL=${quote(redis.url)}`, `MSDB_BACKUP_TARGET=${quote(target)}`, 'CI=false'];
				const msdb = [process.execPath, CLI_PATH, '--migrations-dir', REPO_MIGRATIONS, '--rollbacks-dir', REPO_ROLLBACKS].map(quote).join(' ');
				const inner = `echo BEFORE-MARKER; env ${environment.join(' ')} ${msdb}; echo "EXIT:$?"; sleep 60`;
				const maxConnections = (await query<{max_connections: string}>(database.url, 'SHOW max_connections'))[0]?.max_connections;
				expect(maxConnections).toMatch(/^\d+$/);
				// A session of our own, so the connection gauges have something real to count.
				const holder = new pg.Client({connectionString: database.url, application_name: 'e2e-holder'});
				await holder.connect();
				// A framework process an hour into its life: 90% L1 hits since it started.
				const heartbeatAt = new Date();
				await publishHeartbeat(redis.url, heartbeatAt, {hits: 900, misses: 100});
				await terminal.start(session, size, `sh -c ${quote(inner)}`);
				try {
					// The dashboard, with figures read from the servers.
					const dashboard = await terminal.until(
						session,
						'the dashboard with live figures',
						text =>
							new RegExp(`connections .*[1-9]\\d*/${maxConnections}\\b`).test(text) &&
							new RegExp(`e2e-holder .*1/${maxConnections}\\b`).test(text) &&
							/memory\s.*\d/.test(text) &&
							/agents\*\s+90%/.test(text) &&
							text.includes(`${migrationFiles} pending`) &&
							text.includes('no backup yet'),
					);
					await terminal.keep('dashboard', dashboard);
					const lines = dashboard.split('\n');
					expect(lines.length).toBeLessThanOrEqual(size.rows);
					expect(Math.max(...lines.map(line => line.length))).toBeLessThanOrEqual(size.columns);
					expect(dashboard).not.toContain('BEFORE-MARKER');
					for (const panel of ['1 PostgreSQL', '2 Redis', '3 Cache', '4 Migrations', '5 Backups']) {
						expect(dashboard).toContain(panel);
					}

					const connections = new RegExp(`connections .*?(\\d+)/${maxConnections}\\b`).exec(dashboard);
					expect(Number(connections?.[1])).toBeGreaterThan(0);
					expect(dashboard).toMatch(/m migrate/);

					// Its next heartbeat, 5 s later: 10 hits and 30 misses since the last one. The cache panel
					// rates that interval (25%), not the process's lifetime (about 88%).
					await publishHeartbeat(redis.url, new Date(heartbeatAt.getTime() + 5000), {hits: 910, misses: 130});
					const rated = await terminal.until(session, 'the cache rates over the last interval', text => text.includes('rates over 5 s') && /agents\s+25%/.test(text));
					expect(rated).toContain('1 instance');
					await terminal.keep('dashboard-cache-interval', rated);

					// Migrate: the dry run lists every pending migration; the footer names the key to apply them all.
					await terminal.press(session, 'm');
					const review = await terminal.until(session, 'the migrate review', text => flat(text).includes('Dry run:') && text.includes(`apply all ${migrationFiles}`));
					expect(flat(review)).toContain(`${migrationFiles} pending migrations would be applied`);
					
					await terminal.press(session, 'a');
					const confirm = await terminal.until(session, 'the migrate confirmation', text => flat(text).includes(`Apply ${migrationFiles} migrations to`));
					expect(confirm).toContain(`y apply ${migrationFiles}`);
					await terminal.press(session, 'y');
					const migrated = await terminal.until(session, 'the migrate summary', text => flat(text).includes(`Applied ${migrationFiles} migration(s)`));
					await terminal.keep('migrate-summary', migrated);
					expect(migrated).toContain('back to the console');
					const ledger = await query<{version: number}>(database.url, `SELECT version FROM ${LEDGER_TABLE} ORDER BY version`);
					expect(ledger).toHaveLength(migrationFiles);
					const tablesAfterMigrate = await userTables(database.url);
					expect(tablesAfterMigrate.length).toBeGreaterThan(migrationFiles);
					await terminal.press(session, 'Enter');
					await terminal.until(session, 'the dashboard after migrating', text => text.includes('5 Backups') && text.includes('0 pending'));

					// Backup: both components are chosen; enter starts it.
					await terminal.press(session, 'b');
					const choose = await terminal.until(session, 'the backup choice', text => text.includes('Back up to') && text.includes('enter start the backup'));
					expect(choose).toContain('PostgreSQL');
					expect(choose).toContain('Redis');
					await terminal.press(session, 'Enter');
					const backedUp = await terminal.until(session, 'the backup summary', text => /✔ Backup \S+ written in/.test(text));
					await terminal.keep('backup-summary', backedUp);
					const id = /✔ Backup (\S+) written in/.exec(backedUp)?.[1] ?? '';
					expect(id).not.toBe('');
					expect((await stat(path.join(target, id, 'manifest.json'))).isFile()).toBe(true);
					await terminal.press(session, 'Enter');
					await terminal.until(session, 'the dashboard listing the backup', text => text.includes('5 Backups') && /last backup .+ ago · 1 in target/.test(text));

					// Reset: the plan, then a wrong name and esc all the way back: nothing is dropped.
					await terminal.press(session, 'X');
					const plan = await terminal.until(session, 'the reset plan', text => flat(text).includes(`Reset ${database.name}:`) && text.includes('c continue'));
					await terminal.keep('reset-plan', plan);
					expect(flat(plan)).toContain('Nothing has been changed yet.');
					await terminal.press(session, 'c');
					await terminal.until(session, 'the backup offer', text => flat(text).includes(`Back up ${database.name} first?`) && text.includes('s skip the backup'));
					await terminal.press(session, 's');
					await terminal.until(session, 'the typed confirmation', text => flat(text).includes('type the name of the database'));
					await terminal.type(session, 'not-the-database');
					await terminal.press(session, 'Enter');
					await terminal.until(session, 'the mismatch', text => flat(text).includes('does not match'));
					await terminal.press(session, 'Escape');
					await terminal.until(session, 'the backup offer again', text => flat(text).includes(`Back up ${database.name} first?`));
					await terminal.press(session, 'Escape');
					await terminal.until(session, 'the reset plan again', text => flat(text).includes('Nothing has been changed yet.'));
					await terminal.press(session, 'Escape');
					const cancelled = await terminal.until(session, 'the dashboard after the cancelled reset', text => text.includes('5 Backups') && text.includes('Reset cancelled'));
					expect(cancelled).toContain('0 pending');
					expect(await userTables(database.url)).toEqual(tablesAfterMigrate);
					expect(await query(database.url, `SELECT version FROM ${LEDGER_TABLE}`)).toHaveLength(migrationFiles);

					// Quit: the alternate screen is left, the shell's screen is back, exit code 0.
					await terminal.press(session, 'q');
					const after = await terminal.until(session, 'the shell after quitting', text => text.includes('EXIT:'));
					await terminal.keep('after-quit', after);
					expect(after).toContain('EXIT:0');
					expect(after).toContain('BEFORE-MARKER');
					expect(after).not.toContain('1 PostgreSQL');
					expect(after).not.toContain('5 Backups');
				} finally {
					await terminal.stop();
					await holder.end();
				}
			});
		});
	}

	it('names `msdb --help` for a bad flag on the console', async () => {
		const terminal = new Terminal(path.join(ARTIFACTS, 'bad-flag'));
		const inner = `${[process.execPath, CLI_PATH, '--bogus'].map(quote).join(' ')}; echo "EXIT:$?"; sleep 60`;
		await terminal.start('bogus', {columns: 100, rows: 10}, `sh -c ${quote(inner)}`);
		try {
			const text = await terminal.until('bogus', 'the refusal', screen => screen.includes('EXIT:'));
			expect(text).toContain('EXIT:2');
			expect(text).toContain("Unknown option '--bogus'");
			expect(text).toContain('Run `msdb --help`');
		} finally {
			await terminal.stop();
		}
	});
});
