import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {DEFAULT_LIMITS} from '../source/core/migrations/migration-settings.js';
import {createTestDatabase, type TestDatabase} from './support/test-database.js';
import {createMigrationProject, type MigrationProject} from './support/migration-project.js';
import {runMsdb} from './support/run-msdb.js';
import {query} from './support/sql.js';

const TRICKY_SQL = `-- Functions whose bodies are full of semicolons, as real migrations have.
CREATE TABLE accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL, note text);

CREATE FUNCTION accounts_normalise() RETURNS trigger LANGUAGE plpgsql AS $body$
DECLARE
	separator text := ';';  -- a semicolon; in a comment
BEGIN
	NEW.email := lower(NEW.email);
	NEW.note := coalesce(NEW.note, 'created; ' || separator);
	RETURN NEW;
END;
$body$;

CREATE TRIGGER accounts_normalise BEFORE INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION accounts_normalise();

/* a block comment; with /* a nested one; */ and more; */
DO $$
BEGIN
	INSERT INTO accounts (email) VALUES ('First@Example.COM');
	RAISE NOTICE 'seeded; done';
END
$$;

INSERT INTO accounts (email, note) VALUES ('second@example.com', E'it\\'s; quoted'), ('third@example.com', 'semi;colon');

CREATE FUNCTION account_count_plus(extra int) RETURNS bigint LANGUAGE sql
BEGIN ATOMIC
	SELECT count(*) + extra FROM accounts;
END;
`;

describe('msdb migrate apply', () => {
	let database: TestDatabase;
	let project: MigrationProject;

	beforeAll(async () => {
		database = await createTestDatabase('apply');
		project = await createMigrationProject({
			migrations: {
				'0001_accounts.sql': TRICKY_SQL,
				'0002_indexes.sql': `-- msdb:no-transaction
-- Two concurrent index builds: they cannot run inside a transaction.
CREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);
CREATE INDEX CONCURRENTLY accounts_note_idx ON accounts (note) WHERE note IS NOT NULL;
`,
				'0003_settings.sql': 'CREATE TABLE settings (key text PRIMARY KEY, value jsonb NOT NULL);\n',
			},
			rollbacks: {
				'0001_accounts.sql': 'DROP FUNCTION account_count_plus(int);\nDROP TABLE accounts;\nDROP FUNCTION accounts_normalise();\n',
				'0002_indexes.sql': '-- msdb:no-transaction\nDROP INDEX CONCURRENTLY accounts_note_idx;\nDROP INDEX CONCURRENTLY accounts_email_idx;\n',
			},
		});
	});

	afterAll(async () => {
		await database.drop();
		await project.remove();
	});

	it('status lists everything as pending on a fresh database, and creates nothing', async () => {
		const run = await runMsdb(['migrate', 'status', '--json'], {cwd: project.dir, env: {DATABASE_URL: database.url}});
		expect(run.exitCode).toBe(0);
		expect(run.json.current).toBeNull();
		expect(run.json.applied).toEqual([]);
		expect(run.json.pending.map((row: any) => [row.version, row.name])).toEqual([
			[1, 'accounts'],
			[2, 'indexes'],
			[3, 'settings'],
		]);
		expect(run.json.pending[0].checksum).toMatch(/^[0-9a-f]{64}$/);
		const ledger = await query(database.url, "SELECT to_regclass('public.__ms_migrations') AS ledger");
		expect(ledger[0].ledger).toBeNull();
	});

	it('--dry-run prints the plan and SQL and changes nothing', async () => {
		const run = await runMsdb(['migrate', 'apply', '--dry-run', '--json'], {cwd: project.dir, env: {DATABASE_URL: database.url}});
		expect(run.exitCode).toBe(0);
		expect(run.json.dryRun).toBe(true);
		expect(run.json.plan.map((step: any) => step.version)).toEqual([1, 2, 3]);
		expect(run.json.plan[0].sql).toContain('BEGIN ATOMIC');
		const tables = await query(database.url, "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
		expect(tables[0].n).toBe(0);
	});

	it('applies everything, with tricky function bodies and two concurrent index builds', async () => {
		const run = await runMsdb(['migrate', 'apply', '--json'], {cwd: project.dir, env: {DATABASE_URL: database.url}});
		expect(run.stderr).toContain('[1/3] applied 1_accounts');
		expect(run.stderr).toContain('statement 2/2 (line 4), outside a transaction');
		expect(run.exitCode).toBe(0);
		expect(run.json.applied.map((row: any) => [row.version, row.name])).toEqual([
			[1, 'accounts'],
			[2, 'indexes'],
			[3, 'settings'],
		]);
		expect(run.json.applied[0].executionTimeMs).toBeGreaterThanOrEqual(0);

		const accounts = await query(database.url, 'SELECT email, note FROM accounts ORDER BY id');
		expect(accounts).toEqual([
			{email: 'first@example.com', note: 'created; ;'},
			{email: 'second@example.com', note: "it's; quoted"},
			{email: 'third@example.com', note: 'semi;colon'},
		]);
		const [{total}] = await query(database.url, 'SELECT account_count_plus(10)::int AS total');
		expect(total).toBe(13);

		const indexes = await query(
			database.url,
			`SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			 WHERE c.relname IN ('accounts_email_idx', 'accounts_note_idx') ORDER BY 1`,
		);
		expect(indexes).toEqual([
			{name: 'accounts_email_idx', valid: true},
			{name: 'accounts_note_idx', valid: true},
		]);
	});

	it('records each migration in the ledger with checksum, timing, actor and rollback SQL', async () => {
		const rows = await query(
			database.url,
			'SELECT version::int, name, checksum, execution_time_ms, applied_by, rollback_sql, up_sql, no_transaction FROM __ms_migrations ORDER BY version',
		);
		expect(rows).toHaveLength(3);
		for (const row of rows) {
			expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
			expect(row.execution_time_ms).toBeGreaterThanOrEqual(0);
			expect(row.applied_by).toMatch(/.+@.+/);
		}

		expect(rows[0].rollback_sql).toContain('DROP TABLE accounts');
		expect(rows[0].up_sql).toBe(TRICKY_SQL);
		expect(rows[1].no_transaction).toBe(true);
		expect(rows[2].rollback_sql).toBeNull();

		const history = await query(database.url, "SELECT action, outcome, version::int FROM __ms_migrations_history WHERE action = 'apply' ORDER BY id");
		expect(history).toEqual([1, 2, 3].map(version => ({action: 'apply', outcome: 'succeeded', version})));
	});

	it('status shows them applied and a second apply finds nothing to do', async () => {
		const status = await runMsdb(['migrate', 'status', '--json'], {cwd: project.dir, env: {DATABASE_URL: database.url}});
		expect(status.json.current).toBe(3);
		expect(status.json.pending).toEqual([]);
		expect(status.json.applied[1]).toMatchObject({version: 2, name: 'indexes', checksum: expect.stringMatching(/^[0-9a-f]{64}$/)});

		const again = await runMsdb(['migrate', 'apply', '--json'], {cwd: project.dir, env: {DATABASE_URL: database.url}});
		expect(again.exitCode).toBe(0);
		expect(again.json).toEqual({applied: []});
	});

	it('refuses an older pending version unless --allow-out-of-order', async () => {
		// A branch merged late brings a version below the newest applied one.
		await project.writeMigration('0000_before_everything.sql', 'CREATE TABLE early (id int);\n');
		const refused = await runMsdb(['migrate', 'apply', '--json'], {cwd: project.dir, env: {DATABASE_URL: database.url}});
		expect(refused.exitCode).toBe(2);
		expect(refused.json.error.code).toBe('E_OUT_OF_ORDER');
		expect(refused.stderr).toContain('0000_before_everything.sql');
		expect(refused.stderr).toContain('--allow-out-of-order');

		const allowed = await runMsdb(['migrate', 'apply', '--allow-out-of-order', '--json'], {cwd: project.dir, env: {DATABASE_URL: database.url}});
		expect(allowed.exitCode).toBe(0);
		expect(allowed.json.applied.map((row: any) => row.version)).toEqual([0]);
	});
});

describe('per-file lock_timeout and statement_timeout', () => {
	let database: TestDatabase;
	let project: MigrationProject;
	// Each file records the limits it ran under; current_setting() inside the file sees what
	// msdb SET LOCAL (or SET, outside a transaction) before sending it.
	const recordLimits = (version: number) =>
		`INSERT INTO limits_seen SELECT ${version}, current_setting('lock_timeout'), current_setting('statement_timeout');\n`;

	beforeAll(async () => {
		database = await createTestDatabase('limits');
		project = await createMigrationProject({
			migrations: {
				'0001_defaults.sql':
					"CREATE TABLE limits_seen AS SELECT 1 AS version, current_setting('lock_timeout') AS lock_timeout, current_setting('statement_timeout') AS statement_timeout;\n",
				'0002_flags.sql': recordLimits(2),
				'0003_directive.sql': `-- msdb:statement-timeout 42s\n${recordLimits(3)}`,
				'0004_no_transaction.sql': `-- msdb:no-transaction\n-- msdb:lock-timeout 7s\n${recordLimits(4)}`,
			},
		});
	});

	afterAll(async () => {
		await database.drop();
		await project.remove();
	});

	it('runs files under 10s / 1h by default, the flags\' values when given, and a file\'s directive over both', async () => {
		const env = {DATABASE_URL: database.url};
		const flags = ['--ddl-lock-timeout', '3s', '--statement-timeout', '5min'];
		const defaults = await runMsdb(['migrate', 'apply', '--target', '1'], {cwd: project.dir, env});
		expect(defaults.exitCode, defaults.stderr).toBe(0);
		const withFlags = await runMsdb(['migrate', 'apply', '--target', '3', ...flags], {cwd: project.dir, env});
		expect(withFlags.exitCode, withFlags.stderr).toBe(0);
		// No flags again: the no-transaction file's lock-timeout directive wins over the default,
		// and its statement_timeout is the default, set for the session rather than the transaction.
		const noTransaction = await runMsdb(['migrate', 'apply'], {cwd: project.dir, env});
		expect(noTransaction.exitCode, noTransaction.stderr).toBe(0);

		const seen = await query(database.url, 'SELECT version, lock_timeout, statement_timeout FROM limits_seen ORDER BY version');
		expect(seen).toEqual([
			{version: 1, lock_timeout: '10s', statement_timeout: '1h'},
			{version: 2, lock_timeout: '3s', statement_timeout: '5min'},
			{version: 3, lock_timeout: '3s', statement_timeout: '42s'},
			{version: 4, lock_timeout: '7s', statement_timeout: '1h'},
		]);
		// The CLI repeats the defaults as literals (so parsing options never loads the core); the
		// library's default, what applyMigrations callers pass, must say the same.
		expect(DEFAULT_LIMITS).toEqual({lockTimeout: seen[0].lock_timeout, statementTimeout: seen[0].statement_timeout});
	});
});
