/**
 * `msdb health` end to end through the built CLI, against real services: this file's own
 * database (migrated by `msdb migrate apply`), a private redis-server it may kill, and a
 * directory backup target holding a backup and a passing restore drill. The backup is written
 * with the catalogue's own fixtures (sealed manifest, artifacts, verification record): health
 * reads the catalogue, not the dump, so a real pg_dump would only slow the file down.
 */
import {rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest';
import {writeVerificationRecord} from '../source/core/backup/backup-catalogue.js';
import {manifestKey, newBackupId, serializeManifest} from '../source/core/backup/backup-manifest.js';
import {DirectoryTarget} from '../source/core/backup/targets/directory-target.js';
import {sampleManifest, sampleVerification} from './support/backup-fixtures.js';
import {createMigrationProject, type MigrationProject} from './support/migration-project.js';
import {startRestartableRedis, type RestartableRedis} from './support/restartable-redis.js';
import {runMsdb, type MsdbRun} from './support/run-msdb.js';
import {useTestDatabase} from './support/test-database.js';

const HOUR = 3_600_000;
// The local test server trusts every connection, so a password in the URL is accepted and
// ignored: enough to prove it never reaches any output.
const PASSWORD = 'health-Secret-pw-4711';

const database = useTestDatabase('health');
let redis: RestartableRedis;
let project: MigrationProject;
let targetDir: string;
let databaseUrl: string;
let password: string | undefined;

beforeAll(async () => {
	redis = await startRestartableRedis();
	project = await createMigrationProject({
		migrations: {'0001_widgets.sql': 'CREATE TABLE widgets (id int PRIMARY KEY);\n'},
		rollbacks: {'0001_widgets.sql': 'DROP TABLE widgets;\n'},
	});
	const url = new URL(database.url);
	if (!url.password && inject('postgresSource') === 'local') {
		url.password = PASSWORD;
	}

	databaseUrl = url.toString();
	password = url.password ? decodeURIComponent(url.password) : undefined;
	const applied = await health(['migrate', 'apply', '--json']);
	expect(applied.exitCode, applied.stderr).toBe(0);

	// A backup that finished two hours ago, drilled an hour ago.
	targetDir = path.join(project.dir, 'backups');
	const target = new DirectoryTarget(targetDir);
	const startedAt = new Date(Date.now() - 2 * HOUR);
	const id = newBackupId(startedAt);
	const manifest = sampleManifest(id, {startedAt, durationMs: 60_000});
	for (const part of [manifest.postgres, manifest.redis]) {
		await target.putBytes(part!.artifact.key, `artifact of ${id}`);
	}

	await target.putBytes(manifestKey(id), serializeManifest(manifest).json);
	await writeVerificationRecord(target, sampleVerification(id, new Date(Date.now() - HOUR), true, true));
});

afterAll(async () => {
	await redis?.stop();
	await project?.remove();
});

/** Runs msdb in the project with everything configured (the default ./migrations is the project's). */
async function health(args: string[], env: Record<string, string | undefined> = {}): Promise<MsdbRun> {
	return runMsdb(args, {
		cwd: project.dir,
		env: {DATABASE_URL: databaseUrl, REDIS_URL: redis.url, MSDB_BACKUP_TARGET: targetDir, ...env},
	});
}

type Check = {name: string; status: string; message: string; nextStep?: string; latencyMs?: number};

function statuses(run: MsdbRun): Record<string, string> {
	return Object.fromEntries((run.json.checks as Check[]).map(check => [check.name, check.status]));
}

function failed(run: MsdbRun): Check[] {
	return (run.json.checks as Check[]).filter(check => check.status === 'fail');
}

function expectNoPassword(run: MsdbRun): void {
	if (password) {
		expect(run.stdout).not.toContain(password);
		expect(run.stderr).not.toContain(password);
	}
}

describe('msdb health', () => {
	it('exits 0 with everything up: every check with its status, latency and message', async () => {
		const run = await health(['health', '--json']);
		expect(run.exitCode, run.stderr).toBe(0);
		expect(run.json.ok).toBe(true);
		expect(statuses(run)).toEqual({
			'postgres:primary': 'pass',
			// No DATABASE_<ROLE>_URL: the same server, checked once as the primary.
			'postgres:replica': 'skip',
			'postgres:background': 'skip',
			'postgres:analytics': 'skip',
			'postgres:streaming': 'skip',
			'redis:cache': 'pass',
			'redis:sessions': 'pass',
			'redis:queues': 'pass',
			'redis:pubsub': 'pass',
			migrations: 'pass',
			drift: 'pass',
			'backup-target': 'pass',
			'backup-age': 'pass',
			'restore-age': 'pass',
		});
		for (const check of run.json.checks as Check[]) {
			expect(check.message).toEqual(expect.any(String));
			if (check.status === 'pass') {
				expect(check.latencyMs ?? 0).toBeGreaterThanOrEqual(0);
			}
		}

		const checks = Object.fromEntries((run.json.checks as Check[]).map(check => [check.name, check]));
		expect(checks['postgres:primary']!.latencyMs).toEqual(expect.any(Number));
		expect(checks['redis:cache']!.latencyMs).toEqual(expect.any(Number));
		expect(checks['redis:sessions']!.message).toContain('same server as redis:cache');
		expectNoPassword(run);

		const human = await health(['health']);
		expect(human.exitCode, human.stderr).toBe(0);
		expect(human.stdout).toMatch(/CHECK\s+STATUS\s+LATENCY\s+DETAIL/);
		expect(human.stdout).toMatch(/postgres:primary\s+PASS/);
		expectNoPassword(human);
	});

	it('skips what is not configured here: no backup target, no default migrations folder', async () => {
		const run = await runMsdb(['health', '--json'], {cwd: targetDir, env: {DATABASE_URL: databaseUrl, REDIS_URL: redis.url}});
		expect(run.exitCode, run.stderr).toBe(0);
		const checks = Object.fromEntries((run.json.checks as Check[]).map(check => [check.name, check]));
		expect(checks['backup-target']).toMatchObject({status: 'skip', message: expect.stringContaining('MSDB_BACKUP_TARGET')});
		expect(checks['backup-age']!.status).toBe('skip');
		expect(checks['migrations']).toMatchObject({status: 'skip', message: expect.stringContaining('current version 1')});
		expect(checks['drift']!.status).toBe('pass');

		// A folder named on purpose that does not exist is a mistake, not a skip.
		const named = await runMsdb(['health', '--json', '--migrations-dir', 'nowhere'], {cwd: targetDir, env: {DATABASE_URL: databaseUrl, REDIS_URL: redis.url}});
		expect(named.exitCode).toBe(3);
		expect(failed(named).map(check => check.name)).toEqual(['migrations']);
	});

	it('exits 3 naming migrations when a migration is pending', async () => {
		const file = path.join(project.migrationsDir, '0002_gadgets.sql');
		await writeFile(file, 'CREATE TABLE gadgets (id int);\n');
		await writeFile(path.join(project.rollbacksDir, '0002_gadgets.sql'), 'DROP TABLE gadgets;\n');
		try {
			const run = await health(['health', '--json']);
			expect(run.exitCode, run.stderr).toBe(3);
			expect(run.json.ok).toBe(false);
			const [check, ...others] = failed(run);
			expect(others).toEqual([]);
			expect(check).toMatchObject({name: 'migrations', message: expect.stringContaining('0002_gadgets'), nextStep: expect.stringContaining('msdb migrate apply')});

			const human = await health(['health']);
			expect(human.exitCode).toBe(3);
			expect(human.stdout).toMatch(/migrations\s+FAIL/);
			expect(human.stdout).toContain('✖ migrations: Run `msdb migrate apply`');
		} finally {
			await rm(file);
			await rm(path.join(project.rollbacksDir, '0002_gadgets.sql'));
		}
	});

	it('exits 3 naming backup-age when the last backup is older than --max-backup-age', async () => {
		const run = await health(['health', '--json', '--max-backup-age', '1h']);
		expect(run.exitCode, run.stderr).toBe(3);
		const [check, ...others] = failed(run);
		expect(others).toEqual([]);
		expect(check).toMatchObject({name: 'backup-age', message: expect.stringContaining('older than 60 min'), nextStep: expect.stringContaining('msdb backup create')});

		// The drill (an hour old) is judged by its own threshold.
		const drill = await health(['health', '--json', '--max-restore-age', '30min']);
		expect(drill.exitCode).toBe(3);
		expect(failed(drill).map(failure => failure.name)).toEqual(['restore-age']);
	});

	it('exits 3 naming every Redis role when Redis is stopped, and reports the rest', async () => {
		await redis.kill();
		const run = await health(['health', '--json']);
		expect(run.exitCode, run.stderr).toBe(3);
		expect(failed(run).map(check => check.name)).toEqual(['redis:cache', 'redis:sessions', 'redis:queues', 'redis:pubsub']);
		for (const check of failed(run)) {
			expect(check.nextStep).toContain('REDIS_URL');
		}

		expect(statuses(run)['postgres:primary']).toBe('pass');
		expectNoPassword(run);
		await redis.restart();
	});
});
