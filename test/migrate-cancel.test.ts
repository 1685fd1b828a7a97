import {execa} from 'execa';
import pg from 'pg';
import {afterEach, describe, expect, it} from 'vitest';
import {MIGRATION_LOCK_KEY} from '../source/core/migrations/migration-lock.js';
import {createTestDatabase, type TestDatabase} from './support/test-database.js';
import {createMigrationProject, type MigrationProject} from './support/migration-project.js';
import {CLI_PATH} from './support/run-msdb.js';
import {query, relationExists} from './support/sql.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
	for (const cleanup of cleanups.splice(0).reverse()) {
		await cleanup();
	}
});

/**
 * Starts `msdb migrate apply --json` and resolves once stderr shows `marker`. The child comes
 * back wrapped: it is a thenable, and returning it bare would wait for it to exit.
 */
async function startApply(project: MigrationProject, database: TestDatabase, marker: string, extra: string[] = []) {
	const child = execa(process.execPath, [CLI_PATH, 'migrate', 'apply', '--json', ...extra], {
		cwd: project.dir,
		env: {DATABASE_URL: database.url},
		reject: false,
		stdin: 'ignore',
	});
	let stderr = '';
	await new Promise<void>((resolve, reject) => {
		child.stderr?.on('data', (chunk: Buffer) => {
			stderr += chunk.toString();
			if (stderr.includes(marker)) {
				resolve();
			}
		});
		void child.then(() => reject(new Error(`msdb ended before printing "${marker}":\n${stderr}`)));
		setTimeout(() => reject(new Error(`no "${marker}" after 15 s:\n${stderr}`)), 15_000).unref();
	});
	return {child};
}

describe('cancelling a run', () => {
	it('Ctrl-C during a long migration cancels it on the server, rolls it back and frees the lock', async () => {
		const database = await createTestDatabase('cancel');
		const project = await createMigrationProject({
			migrations: {
				'0001_quick.sql': 'CREATE TABLE quick (id int);\n',
				'0002_slow.sql': 'CREATE TABLE slow (id int);\nSELECT pg_sleep(60);\n',
				'0003_never.sql': 'CREATE TABLE never (id int);\n',
			},
		});
		cleanups.push(async () => database.drop(), async () => project.remove());

		const {child} = await startApply(project, database, 'applying 2_slow… (still running)');
		const started = Date.now();
		child.kill('SIGINT');
		const result = await child;
		expect(Date.now() - started).toBeLessThan(10_000);
		expect(result.exitCode).toBe(1);
		const output = JSON.parse(String(result.stdout));
		expect(output.error.code).toBe('E_CANCELLED');
		expect(output.error.message).toContain('0002_slow.sql was stopped and rolled back');
		expect(String(result.stderr)).toContain('Ctrl-C: cancelling');

		expect(await relationExists(database.url, 'quick')).toBe(true);
		expect(await relationExists(database.url, 'slow')).toBe(false);
		expect(await relationExists(database.url, 'never')).toBe(false);
		expect(await query(database.url, 'SELECT version::int FROM __ms_migrations')).toEqual([{version: 1}]);
		const failed = await query(database.url, "SELECT version::int, details->>'cancelled' AS cancelled FROM __ms_migrations_history WHERE outcome = 'failed'");
		expect(failed).toEqual([{version: 2, cancelled: 'true'}]);
		// Nothing of msdb is left running, and the migration lock is free.
		const sessions = await query(database.url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'msdb:migrate'");
		expect(sessions[0].n).toBe(0);
		const [{free}] = await query(database.url, 'SELECT pg_try_advisory_lock($1::bigint) AS free', [MIGRATION_LOCK_KEY]);
		expect(free).toBe(true);
	});

	it('SIGTERM while waiting for the migration lock ends the wait and runs nothing', async () => {
		const database = await createTestDatabase('cancel_wait');
		const project = await createMigrationProject({migrations: {'0001_a.sql': 'CREATE TABLE a (id int);\n'}});
		const holder = new pg.Client({connectionString: database.url});
		await holder.connect();
		cleanups.push(async () => database.drop(), async () => project.remove(), async () => holder.end());
		await holder.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);

		const {child} = await startApply(project, database, 'waiting for the migration lock');
		child.kill('SIGTERM');
		const result = await child;
		expect(result.exitCode).toBe(1);
		expect(JSON.parse(String(result.stdout)).error.message).toContain('still waiting for the migration lock');
		expect(await relationExists(database.url, 'a')).toBe(false);
	});
});
