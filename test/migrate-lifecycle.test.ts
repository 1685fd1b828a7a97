import {readFile, rm, writeFile} from 'node:fs/promises';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {createTestDatabase, type TestDatabase} from './support/test-database.js';
import {createMigrationProject, type MigrationProject} from './support/migration-project.js';
import {runMsdb} from './support/run-msdb.js';
import {query, relationExists} from './support/sql.js';

const MIGRATIONS = {
	'0001_schema.sql': `CREATE SCHEMA crm;
CREATE TYPE crm.stage AS ENUM ('lead', 'customer');
CREATE TABLE crm.contacts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE, stage crm.stage NOT NULL DEFAULT 'lead');
`,
	'0002_notes.sql': `CREATE TABLE crm.notes (id bigserial PRIMARY KEY, contact_id bigint NOT NULL REFERENCES crm.contacts, body text);
CREATE INDEX notes_contact_idx ON crm.notes (contact_id);
`,
	'0003_public_view.sql': `CREATE VIEW public.customers AS SELECT id, email FROM crm.contacts WHERE stage = 'customer';
CREATE FUNCTION public.customer_count() RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC SELECT count(*) FROM public.customers; END;
`,
};
const ROLLBACKS = {
	'0001_schema.sql': 'DROP TABLE crm.contacts;\nDROP TYPE crm.stage;\nDROP SCHEMA crm;\n',
	'0002_notes.sql': 'DROP TABLE crm.notes;\n',
	// The sleep gives the rollback a duration the history must account for.
	'0003_public_view.sql': 'SELECT pg_sleep(0.1);\nDROP FUNCTION public.customer_count();\nDROP VIEW public.customers;\n',
};

describe('migration lifecycle: rollback, drift, validate, accept, reset', () => {
	let database: TestDatabase;
	let project: MigrationProject;
	let env: Record<string, string>;
	const msdb = async (...args: string[]) => runMsdb(args, {cwd: project.dir, env});

	beforeAll(async () => {
		database = await createTestDatabase('lifecycle');
		project = await createMigrationProject({migrations: MIGRATIONS, rollbacks: ROLLBACKS});
		env = {DATABASE_URL: database.url};
		// Something that existed before msdb: reset must leave it alone.
		await query(database.url, 'CREATE TABLE public.legacy (id int); CREATE EXTENSION IF NOT EXISTS pgcrypto');
	});

	afterAll(async () => {
		await database.drop();
		await project.remove();
	});

	it('applies, rolls back 2 steps, rolls back to 0, applies again, and finds no drift', async () => {
		expect((await msdb('migrate', 'apply')).exitCode).toBe(0);
		const firstDrift = await msdb('migrate', 'drift', '--json');
		expect(firstDrift.exitCode).toBe(0);
		expect(firstDrift.json.ok).toBe(true);
		const [{snapshot: firstSnapshot}] = await query(database.url, "SELECT snapshot FROM __ms_catalog_snapshots WHERE kind = 'after-apply' ORDER BY id DESC LIMIT 1");

		const beforeRollback = new Date();
		const twoSteps = await runMsdb(['migrate', 'rollback', '--steps', '2', '--json'], {cwd: project.dir, env: {...env, MSDB_ACTOR: 'rollback-tester'}});
		const afterRollback = new Date();
		expect(twoSteps.exitCode).toBe(0);
		expect(twoSteps.json.rolledBack).toEqual([
			{version: 3, name: 'public_view'},
			{version: 2, name: 'notes'},
		]);
		// One history row per step, newest first, saying who, when and how long.
		const rollbackHistory = await query(
			database.url,
			"SELECT action, outcome, version::int, name, performed_by, started_at, finished_at, duration_ms FROM __ms_migrations_history WHERE action = 'rollback' ORDER BY id",
		);
		expect(rollbackHistory.map(({action, outcome, version, name, performed_by}) => ({action, outcome, version, name, performed_by}))).toEqual([
			{action: 'rollback', outcome: 'succeeded', version: 3, name: 'public_view', performed_by: 'rollback-tester'},
			{action: 'rollback', outcome: 'succeeded', version: 2, name: 'notes', performed_by: 'rollback-tester'},
		]);
		for (const row of rollbackHistory) {
			expect(row.started_at.getTime()).toBeGreaterThanOrEqual(beforeRollback.getTime());
			expect(row.finished_at.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
			expect(row.finished_at.getTime()).toBeLessThanOrEqual(afterRollback.getTime());
			expect(row.duration_ms).toBeLessThanOrEqual(afterRollback.getTime() - beforeRollback.getTime());
		}

		expect(rollbackHistory[0].duration_ms).toBeGreaterThanOrEqual(100);
		expect(rollbackHistory[1].started_at.getTime()).toBeGreaterThanOrEqual(rollbackHistory[0].finished_at.getTime());
		expect(await relationExists(database.url, 'crm.notes')).toBe(false);
		expect((await msdb('migrate', 'drift')).exitCode).toBe(0);

		const toZero = await msdb('migrate', 'rollback', '--to', '0', '--json');
		expect(toZero.json.rolledBack).toEqual([{version: 1, name: 'schema'}]);
		const schemas = await query(database.url, "SELECT nspname FROM pg_namespace WHERE nspname = 'crm'");
		expect(schemas).toEqual([]);
		expect((await msdb('migrate', 'drift')).exitCode).toBe(0);

		const again = await msdb('migrate', 'apply', '--json');
		expect(again.json.applied.map((row: any) => row.version)).toEqual([1, 2, 3]);
		const drift = await msdb('migrate', 'drift', '--json');
		expect(drift.exitCode).toBe(0);
		expect(drift.json).toMatchObject({ok: true, problems: []});
		const [{snapshot: secondSnapshot}] = await query(database.url, "SELECT snapshot FROM __ms_catalog_snapshots WHERE kind = 'after-apply' ORDER BY id DESC LIMIT 1");
		expect(secondSnapshot).toEqual(firstSnapshot);
	});

	it('names a column added by hand as drift (exit 3)', async () => {
		await query(database.url, 'ALTER TABLE crm.contacts ADD COLUMN nickname text');
		const drift = await msdb('migrate', 'drift', '--json');
		expect(drift.exitCode).toBe(3);
		expect(drift.json.ok).toBe(false);
		expect(drift.json.problems).toHaveLength(1);
		expect(drift.json.problems[0].message).toContain('crm.contacts');
		expect(drift.json.problems[0].message).toContain('nickname');
		const human = await msdb('migrate', 'drift');
		expect(human.stdout).toContain('nickname');
		await query(database.url, 'ALTER TABLE crm.contacts DROP COLUMN nickname');
		expect((await msdb('migrate', 'drift')).exitCode).toBe(0);
	});

	it('validate names an applied migration whose file was deleted (exit 3)', async () => {
		const migration = `${project.migrationsDir}/0003_public_view.sql`;
		const rollback = `${project.rollbacksDir}/0003_public_view.sql`;
		const [migrationSql, rollbackSql] = await Promise.all([readFile(migration, 'utf8'), readFile(rollback, 'utf8')]);
		// The rollback goes too, so the missing migration is the only problem left.
		await Promise.all([rm(migration), rm(rollback)]);
		try {
			const validate = await msdb('migrate', 'validate', '--json');
			expect(validate.exitCode).toBe(3);
			expect(validate.json.ok).toBe(false);
			expect(validate.json.problems).toEqual([
				{version: 3, kind: 'applied-file-missing', message: 'migration 3 (public_view) is applied but its file is missing from ./migrations'},
			]);
			const human = await msdb('migrate', 'validate');
			expect(human.exitCode).toBe(3);
			expect(human.stdout).toContain('applied-file-missing  version 3: migration 3 (public_view) is applied but its file is missing');
		} finally {
			await Promise.all([writeFile(migration, migrationSql), writeFile(rollback, rollbackSql)]);
		}

		expect((await msdb('migrate', 'validate')).exitCode).toBe(0);
	});

	it('refuses to roll back past a migration without rollback SQL, before running anything', async () => {
		await project.writeMigration('0004_no_way_back.sql', 'CREATE TABLE crm.audit (id int);\n');
		expect((await msdb('migrate', 'apply')).exitCode).toBe(0);
		const run = await msdb('migrate', 'rollback', '--steps', '2', '--json');
		expect(run.exitCode).toBe(2);
		expect(run.json.error.code).toBe('E_ROLLBACK_MISSING');
		expect(run.json.error.message).toContain('4 (no_way_back)');
		expect(await relationExists(database.url, 'crm.audit')).toBe(true);
		expect(await relationExists(database.url, 'public.customers')).toBe(true);
		await project.writeRollback('0004_no_way_back.sql', 'DROP TABLE crm.audit;\n');
		// The rollback file appeared after the apply: validate says so, accept records it.
		const validate = await msdb('migrate', 'validate', '--json');
		expect(validate.json.problems).toContainEqual(expect.objectContaining({version: 4, kind: 'applied-without-rollback'}));
		expect((await msdb('migrate', 'accept', '4')).exitCode).toBe(0);
		const rolled = await msdb('migrate', 'rollback', '--json');
		expect(rolled.json.rolledBack).toEqual([{version: 4, name: 'no_way_back'}]);
	});

	it('catches an edited applied file: validate shows a diff (exit 3), apply refuses until accept', async () => {
		const file = `${project.migrationsDir}/0002_notes.sql`;
		const original = await readFile(file, 'utf8');
		await writeFile(file, original.replace('body text', 'body text NOT NULL'));
		await project.writeMigration('0005_next.sql', 'CREATE TABLE crm.next (id int);\n');
		await project.writeRollback('0005_next.sql', 'DROP TABLE crm.next;\n');

		const validate = await msdb('migrate', 'validate', '--json');
		expect(validate.exitCode).toBe(3);
		const mismatch = validate.json.problems.find((problem: any) => problem.kind === 'checksum-mismatch');
		expect(mismatch).toMatchObject({version: 2, file: expect.stringContaining('0002_notes.sql')});
		expect(mismatch.diff).toContain('-CREATE TABLE crm.notes (id bigserial PRIMARY KEY, contact_id bigint NOT NULL REFERENCES crm.contacts, body text);');
		expect(mismatch.diff).toContain('+CREATE TABLE crm.notes (id bigserial PRIMARY KEY, contact_id bigint NOT NULL REFERENCES crm.contacts, body text NOT NULL);');
		const human = await msdb('migrate', 'validate');
		expect(human.exitCode).toBe(3);
		expect(human.stdout).toContain('checksum-mismatch');

		const refused = await msdb('migrate', 'apply', '--json');
		expect(refused.exitCode).toBe(2);
		expect(refused.json.error.code).toBe('E_CHECKSUM_MISMATCH');
		expect(refused.json.error.message).toContain('0002_notes.sql');
		expect(await relationExists(database.url, 'crm.next')).toBe(false);

		// Restoring the file is one way out…
		await writeFile(file, original);
		expect((await msdb('migrate', 'validate')).exitCode).toBe(0);
		// …accepting the change is the other, and it is recorded.
		await writeFile(file, `${original}-- reviewed\n`);
		expect((await msdb('migrate', 'apply')).exitCode).toBe(2);
		const accept = await msdb('migrate', 'accept', '2', '--json');
		expect(accept.exitCode).toBe(0);
		expect(accept.json).toMatchObject({version: 2, name: 'notes'});
		const accepted = await query(database.url, "SELECT details FROM __ms_migrations_history WHERE action = 'accept' AND version = 2");
		expect(accepted[0].details).toMatchObject({previousChecksum: accept.json.previousChecksum, checksum: accept.json.checksum});
		const apply = await msdb('migrate', 'apply', '--json');
		expect(apply.exitCode).toBe(0);
		expect(apply.json.applied.map((row: any) => row.version)).toEqual([4, 5]);
	});

	it('reset refuses without --confirm or with the wrong name, and drops nothing', async () => {
		const withoutConfirm = await msdb('migrate', 'reset', '--json');
		expect(withoutConfirm.exitCode).toBe(2);
		expect(withoutConfirm.json.error.code).toBe('E_CONFIRMATION_REQUIRED');
		expect(withoutConfirm.json.error.nextStep).toContain(`--confirm ${database.name}`);
		const wrongName = await msdb('migrate', 'reset', '--confirm', `${database.name}x`);
		expect(wrongName.exitCode).toBe(2);
		const production = await runMsdb(['migrate', 'reset', '--confirm', database.name], {cwd: project.dir, env: {...env, MSDB_ENV: 'production'}});
		expect(production.exitCode).toBe(2);
		expect(production.stderr).toContain('--allow-production');
		expect(await relationExists(database.url, 'crm.contacts')).toBe(true);
		expect(await relationExists(database.url, 'public.__ms_migrations')).toBe(true);
	});

	it('reset with the database name drops what the migrations made, keeps the rest, and records it', async () => {
		const dryRun = await msdb('migrate', 'reset', '--dry-run', '--json');
		expect(dryRun.exitCode).toBe(0);
		expect(dryRun.json.dropped.join('\n')).toContain('crm');
		expect(await relationExists(database.url, 'crm.contacts')).toBe(true);

		const reset = await msdb('migrate', 'reset', '--confirm', database.name, '--json');
		expect(reset.exitCode).toBe(0);
		const schemas = await query(database.url, "SELECT nspname FROM pg_namespace WHERE nspname = 'crm'");
		expect(schemas).toEqual([]);
		expect(await relationExists(database.url, 'public.customers')).toBe(false);
		const functions = await query(database.url, "SELECT proname FROM pg_proc WHERE proname = 'customer_count'");
		expect(functions).toEqual([]);
		expect(await relationExists(database.url, 'public.__ms_migrations')).toBe(false);
		expect(await relationExists(database.url, 'public.legacy')).toBe(true);
		const extensions = await query(database.url, "SELECT extname FROM pg_extension WHERE extname = 'pgcrypto'");
		expect(extensions).toHaveLength(1);
		const history = await query(database.url, "SELECT outcome, details FROM __ms_migrations_history WHERE action = 'reset'");
		expect(history).toHaveLength(1);
		expect(history[0].outcome).toBe('succeeded');
		expect(history[0].details.database).toBe(database.name);

		const status = await msdb('migrate', 'status', '--json');
		expect(status.json.current).toBeNull();
		expect(status.json.pending).toHaveLength(5);
		expect((await msdb('migrate', 'apply')).exitCode).toBe(0);
		expect((await msdb('migrate', 'drift')).exitCode).toBe(0);
	});
});

describe('version order', () => {
	it('compares versions as integers everywhere: 9 < 10 < 11', async () => {
		const database = await createTestDatabase('order');
		const project = await createMigrationProject({
			migrations: {'9_a.sql': 'CREATE TABLE a (id int);\n', '10_b.sql': 'CREATE TABLE b (id int);\n', '11_c.sql': 'CREATE TABLE c (id int);\n'},
			rollbacks: {'9_a.sql': 'DROP TABLE a;\n', '10_b.sql': 'DROP TABLE b;\n', '11_c.sql': 'DROP TABLE c;\n'},
		});
		try {
			const env = {DATABASE_URL: database.url};
			const apply = await runMsdb(['migrate', 'apply', '--json'], {cwd: project.dir, env});
			expect(apply.json.applied.map((row: any) => row.version)).toEqual([9, 10, 11]);
			const status = await runMsdb(['migrate', 'status', '--json'], {cwd: project.dir, env});
			expect(status.json.current).toBe(11);
			expect(status.json.applied.map((row: any) => row.version)).toEqual([9, 10, 11]);
			const rollback = await runMsdb(['migrate', 'rollback', '--steps', '2', '--json'], {cwd: project.dir, env});
			expect(rollback.json.rolledBack).toEqual([
				{version: 11, name: 'c'},
				{version: 10, name: 'b'},
			]);
			expect(await relationExists(database.url, 'a')).toBe(true);
		} finally {
			await database.drop();
			await project.remove();
		}
	});
});

describe('baseline and create', () => {
	it('baselines an existing database without running anything, then applies the rest', async () => {
		const database = await createTestDatabase('baseline');
		const project = await createMigrationProject({
			migrations: {'0001_t.sql': 'CREATE TABLE t (id int);\n', '0002_u.sql': 'CREATE TABLE u (id int);\n'},
			rollbacks: {'0001_t.sql': 'DROP TABLE t;\n', '0002_u.sql': 'DROP TABLE u;\n'},
		});
		try {
			await query(database.url, 'CREATE TABLE t (id int)');
			const env = {DATABASE_URL: database.url};
			const baseline = await runMsdb(['migrate', 'baseline', '1', '--json'], {cwd: project.dir, env});
			expect(baseline.exitCode).toBe(0);
			expect(baseline.json.recorded).toEqual([{version: 1, name: 't'}]);
			const again = await runMsdb(['migrate', 'baseline', '1'], {cwd: project.dir, env});
			expect(again.exitCode).toBe(2);
			const apply = await runMsdb(['migrate', 'apply', '--json'], {cwd: project.dir, env});
			expect(apply.json.applied.map((row: any) => row.version)).toEqual([2]);
			const history = await query(database.url, 'SELECT action, version::int FROM __ms_migrations_history ORDER BY id');
			expect(history).toEqual([
				{action: 'baseline', version: 1},
				{action: 'apply', version: 2},
			]);
		} finally {
			await database.drop();
			await project.remove();
		}
	});

	it('creates the next version with the existing width, both files, and refuses bad names', async () => {
		const project = await createMigrationProject({migrations: {'007_first.sql': 'SELECT 1;\n'}, rollbacks: {'007_first.sql': 'SELECT 1;\n'}});
		try {
			const created = await runMsdb(['migrate', 'create', 'add_things', '--json'], {cwd: project.dir});
			expect(created.exitCode).toBe(0);
			expect(created.json).toMatchObject({version: 8, name: 'add_things', migrationFile: 'migrations/008_add_things.sql', rollbackFile: 'rollbacks/008_add_things.sql'});
			expect(await readFile(`${project.dir}/rollbacks/008_add_things.sql`, 'utf8')).toContain('Rollback of');
			const second = await runMsdb(['migrate', 'create', 'more'], {cwd: project.dir});
			expect(second.stdout).toContain('009_more.sql');
			const bad = await runMsdb(['migrate', 'create', 'Add Things'], {cwd: project.dir});
			expect(bad.exitCode).toBe(2);
			expect(bad.stderr).toContain('msdb migrate create add_things');
		} finally {
			await project.remove();
		}
	});
});
