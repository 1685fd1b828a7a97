import pg from 'pg';
import {afterEach, describe, expect, it} from 'vitest';
import {MIGRATION_LOCK_KEY} from '../source/core/migrations/migration-lock.js';
import {createTestDatabase, type TestDatabase} from './support/test-database.js';
import {createMigrationProject, type MigrationProject} from './support/migration-project.js';
import {runMsdb} from './support/run-msdb.js';
import {query, relationExists} from './support/sql.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
	for (const cleanup of cleanups.splice(0).reverse()) {
		await cleanup();
	}
});

async function setUp(files: Parameters<typeof createMigrationProject>[0]): Promise<{database: TestDatabase; project: MigrationProject; env: Record<string, string>}> {
	const database = await createTestDatabase('failures');
	const project = await createMigrationProject(files);
	cleanups.push(async () => database.drop(), async () => project.remove());
	return {database, project, env: {DATABASE_URL: database.url}};
}

describe('a migration that fails', () => {
	it.each([
		['a missing table (the server gives a position)', 'INSERT INTO no_such_table VALUES (1);', '42P01', 5, 13],
		['a division by zero (no position: located by replay)', 'INSERT INTO second_part SELECT 1 / 0;', '22012', 5, 1],
	])('on its third statement, %s, leaves nothing of it behind', async (_label, thirdStatement, sqlState, line, column) => {
		const {database, project, env} = await setUp({
			migrations: {
				'0001_first.sql': 'CREATE TABLE first_part (id int);\n',
				'0002_breaks.sql': `-- two good statements, then a bad one
CREATE TABLE second_part (id int);
INSERT INTO second_part VALUES (1);

${thirdStatement}
`,
				'0003_later.sql': 'CREATE TABLE third_part (id int);\n',
			},
		});
		const run = await runMsdb(['migrate', 'apply', '--json'], {cwd: project.dir, env});
		expect(run.exitCode).toBe(1);
		expect(run.json.error.code).toBe('E_MIGRATION_FAILED');
		expect(run.json.error.details).toMatchObject({version: 2, line, column, sqlState, file: 'migrations/0002_breaks.sql'});
		expect(run.stderr).toContain(`migrations/0002_breaks.sql:${line}:${column}: SQLSTATE ${sqlState}`);

		expect(await relationExists(database.url, 'first_part')).toBe(true);
		expect(await relationExists(database.url, 'second_part')).toBe(false);
		expect(await relationExists(database.url, 'third_part')).toBe(false);
		const ledger = await query(database.url, 'SELECT version::int FROM __ms_migrations ORDER BY version');
		expect(ledger).toEqual([{version: 1}]);
		const failures = await query(database.url, "SELECT version::int, error->>'sqlState' AS state FROM __ms_migrations_history WHERE outcome = 'failed'");
		expect(failures).toEqual([{version: 2, state: sqlState}]);
	});

	it('in a no-transaction file keeps the statements before it, says so, and drops the invalid index it left', async () => {
		const {database, project, env} = await setUp({
			migrations: {
				'0001_table.sql': "CREATE TABLE people (id int, email text);\nINSERT INTO people VALUES (1, 'a@x'), (2, 'a@x');\n",
				'0002_indexes.sql': `-- msdb:no-transaction
CREATE INDEX CONCURRENTLY people_id_idx ON people (id);
CREATE UNIQUE INDEX CONCURRENTLY people_email_key ON people (email);
`,
			},
		});
		const run = await runMsdb(['migrate', 'apply', '--json'], {cwd: project.dir, env});
		expect(run.exitCode).toBe(1);
		expect(run.json.error.details).toMatchObject({version: 2, line: 3, sqlState: '23505', statement: 2, statementsCompleted: 1});
		expect(run.json.error.nextStep).toContain('first 1 statement(s) ran');
		expect(run.stderr).toContain('dropped the invalid index');
		const indexes = await query(database.url, "SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'people%' ORDER BY 1");
		expect(indexes).toEqual([{name: 'people_id_idx', valid: true}]);
		const ledger = await query(database.url, 'SELECT version::int FROM __ms_migrations ORDER BY version');
		expect(ledger).toEqual([{version: 1}]);
	});
});

describe('locks', () => {
	it('waits for the migration lock, then gives up after --lock-timeout naming the holder', async () => {
		const {database, project, env} = await setUp({migrations: {'0001_a.sql': 'CREATE TABLE a (id int);\n'}});
		const holder = new pg.Client({connectionString: database.url, application_name: 'someone-else'});
		await holder.connect();
		cleanups.push(async () => holder.end());
		await holder.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);

		const run = await runMsdb(['migrate', 'apply', '--lock-timeout', '1s', '--json'], {cwd: project.dir, env});
		expect(run.exitCode).toBe(1);
		expect(run.json.error.code).toBe('E_LOCK_TIMEOUT');
		expect(run.json.error.message).toContain('someone-else');
		expect(run.stderr).toContain('waiting for the migration lock');
		expect(await relationExists(database.url, 'a')).toBe(false);
	});

	it('gives up on a table lock after the file\'s lock-timeout, retrying first', async () => {
		const {database, project, env} = await setUp({migrations: {'0001_busy.sql': 'CREATE TABLE busy (id int);\n'}});
		expect((await runMsdb(['migrate', 'apply'], {cwd: project.dir, env})).exitCode).toBe(0);
		await project.writeMigration('0002_alter.sql', '-- msdb:lock-timeout 200ms\nALTER TABLE busy ADD COLUMN name text;\n');

		const blocker = new pg.Client({connectionString: database.url});
		await blocker.connect();
		cleanups.push(async () => blocker.end());
		await blocker.query('BEGIN; LOCK TABLE busy IN ACCESS EXCLUSIVE MODE');

		const run = await runMsdb(['migrate', 'apply', '--lock-retries', '1', '--json'], {cwd: project.dir, env});
		await blocker.query('ROLLBACK');
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain('retry 1');
		expect(run.json.error.details).toMatchObject({version: 2, sqlState: '55P03'});
		const columns = await query(database.url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'busy' ORDER BY 1");
		expect(columns).toEqual([{column_name: 'id'}]);
	});

	it('lets eight concurrent apply processes run every migration exactly once', async () => {
		const migrations: Record<string, string> = {
			'0001_runs.sql': 'CREATE TABLE runs (version int NOT NULL, at timestamptz DEFAULT clock_timestamp());\nINSERT INTO runs (version) VALUES (1);\n',
		};
		for (let version = 2; version <= 6; version++) {
			migrations[`000${version}_step_${version}.sql`] = `SELECT pg_sleep(0.05);\nCREATE TABLE step_${version} (id int);\nINSERT INTO runs (version) VALUES (${version});\n`;
		}

		migrations['0007_index.sql'] = '-- msdb:no-transaction\nCREATE INDEX CONCURRENTLY runs_version_idx ON runs (version);\n';
		const {database, project, env} = await setUp({migrations});
		const runs = await Promise.all(Array.from({length: 8}, async () => runMsdb(['migrate', 'apply', '--json'], {cwd: project.dir, env})));
		for (const run of runs) {
			expect(run.exitCode, run.stderr).toBe(0);
		}

		const appliedByRun = runs.map(run => run.json.applied.length as number);
		expect(appliedByRun.reduce((sum, count) => sum + count, 0)).toBe(7);
		const counts = await query(database.url, 'SELECT version, count(*)::int AS n FROM runs GROUP BY version ORDER BY version');
		expect(counts).toEqual([1, 2, 3, 4, 5, 6].map(version => ({version, n: 1})));
		const history = await query(database.url, "SELECT version::int, count(*)::int AS n FROM __ms_migrations_history WHERE action = 'apply' AND outcome = 'succeeded' GROUP BY version ORDER BY version");
		expect(history).toEqual([1, 2, 3, 4, 5, 6, 7].map(version => ({version, n: 1})));
	});
});

describe('--single-transaction', () => {
	const files = {
		'0001_first.sql': 'CREATE TABLE first_part (id int);\n',
		'0002_second.sql': 'CREATE TABLE second_part (id int);\nINSERT INTO second_part VALUES (1), (2);\n',
	};

	it('applies every file, its ledger row and the snapshot in one transaction', async () => {
		const {database, project, env} = await setUp({migrations: files});
		const run = await runMsdb(['migrate', 'apply', '--single-transaction', '--json'], {cwd: project.dir, env});
		expect(run.exitCode).toBe(0);
		expect(run.json.applied.map((row: any) => row.version)).toEqual([1, 2]);
		const ledger = await query(database.url, 'SELECT version::int, applied_at FROM __ms_migrations ORDER BY version');
		// One transaction: now() is the same for both rows.
		expect(ledger[0].applied_at).toEqual(ledger[1].applied_at);
		expect((await runMsdb(['migrate', 'drift'], {cwd: project.dir, env})).exitCode).toBe(0);
	});

	it('keeps nothing from the run when a later file fails, and still names the failing line', async () => {
		const {database, project, env} = await setUp({
			migrations: {
				...files,
				// Fails at run time (no position): located by replaying the earlier files first,
				// since this file's second statement depends on the table the first file created.
				'0003_third.sql': 'CREATE TABLE third_part (id int);\nINSERT INTO first_part SELECT 1 / (count(*) - count(*))::int FROM second_part;\n',
			},
		});
		const run = await runMsdb(['migrate', 'apply', '--single-transaction', '--json'], {cwd: project.dir, env});
		expect(run.exitCode).toBe(1);
		expect(run.json.error.details).toMatchObject({version: 3, line: 2, sqlState: '22012'});
		expect(run.json.error.message).toContain('also undone: 1, 2');
		for (const table of ['first_part', 'second_part', 'third_part']) {
			expect(await relationExists(database.url, table)).toBe(false);
		}

		expect(await query(database.url, 'SELECT version FROM __ms_migrations')).toEqual([]);
		const history = await query(database.url, "SELECT outcome, version::int, details FROM __ms_migrations_history WHERE action = 'apply'");
		expect(history).toEqual([{outcome: 'failed', version: 3, details: {singleTransaction: true, rolledBackWithIt: [1, 2]}}]);
	});

	it('refuses a plan that contains a no-transaction file', async () => {
		const {database, project, env} = await setUp({
			migrations: {...files, '0003_index.sql': '-- msdb:no-transaction\nCREATE INDEX CONCURRENTLY first_idx ON first_part (id);\n'},
		});
		const run = await runMsdb(['migrate', 'apply', '--single-transaction', '--json'], {cwd: project.dir, env});
		expect(run.exitCode).toBe(2);
		expect(run.json.error.message).toContain('0003_index.sql');
		expect(await relationExists(database.url, 'first_part')).toBe(false);
	});
});
