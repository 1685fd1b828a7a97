import {describe, expect, it} from 'vitest';
import {applyMigrations} from '../source/core/migrations/apply.js';
import {flowMigrationSettings} from '../source/ui/flows/flow-migration-settings.js';
import {MigrateFlow} from '../source/ui/flows/migrate-flow.js';
import {keys, migrationFlowContext, renderFlow} from './support/flow-harness.js';
import {useMigrationProject} from './support/migration-project.js';
import {query, relationExists} from './support/sql.js';
import {useTestDatabase} from './support/test-database.js';

const USERS_SQL = '-- the accounts\nCREATE TABLE users (\n\tid bigint PRIMARY KEY,\n\tname text NOT NULL\n);\n';
const EMAIL_SQL = 'ALTER TABLE users ADD COLUMN email text;\n';

async function ledgerVersions(url: string): Promise<number[]> {
	if (!(await relationExists(url, 'public.__ms_migrations'))) {
		return [];
	}

	const rows = await query<{version: string}>(url, 'SELECT version FROM public.__ms_migrations ORDER BY version');
	return rows.map(row => Number(row.version));
}

describe('MigrateFlow: review, dry run and cancel', () => {
	const database = useTestDatabase('ui_migrate_review');
	const project = useMigrationProject({migrations: {'1_create_users.sql': USERS_SQL, '2_add_email.sql': EMAIL_SQL}});

	it('lists the pending migrations with their SQL as a dry run, lets you read it all, and esc leaves with nothing changed', async () => {
		const flow = renderFlow(MigrateFlow, migrationFlowContext(database.url, project.current));
		const review = await flow.waitForFrame('Dry run:');
		expect(review).toContain('2 pending migrations would be applied');
		expect(review).toContain('Nothing has been changed');
		expect(review).toContain('❯ 1_create_users');
		expect(review).toContain('2_add_email');
		// The highlighted migration's SQL, with the file's own line numbers.
		expect(review).toMatch(/2 │ CREATE TABLE users \(/);
		expect(review).toMatch(/enter\s+read the SQL/);
		expect(review).toMatch(/a\s+apply all 2/);
		expect(review).toMatch(/t\s+apply up to 1_create_users/);
		expect(review).toMatch(/esc\s+back/);

		await flow.press('j');
		await flow.waitForFrame('ALTER TABLE users ADD COLUMN email text');
		expect(flow.frame()).toContain('❯ 2_add_email');
		// The last migration: "up to" it is the same as all, so the key is not offered.
		expect(flow.frame()).not.toMatch(/t\s+apply up to/);

		await flow.press(keys.up);
		await flow.waitForFrame('❯ 1_create_users');
		await flow.press(keys.enter);
		const full = await flow.waitForFrame('esc back to the list');
		expect(full).toContain('1_create_users.sql · one transaction');
		expect(full).toMatch(/5 │ \);/);
		await flow.press(keys.escape);
		await flow.waitForFrame('Dry run:');

		await flow.press(keys.escape);
		expect(await flow.waitForExit()).toEqual({status: 'cancelled', summary: 'Migrate cancelled; nothing was applied.'});
		expect(flow.onExit).toHaveBeenCalledTimes(1);
		expect(await relationExists(database.url, 'public.users')).toBe(false);
		// A dry run takes no lock and creates no ledger.
		expect(await relationExists(database.url, 'public.__ms_migrations')).toBe(false);
		flow.unmount();
	});

	it('esc on the confirm screen goes back to the plan; enter there does not apply', async () => {
		const flow = renderFlow(MigrateFlow, migrationFlowContext(database.url, project.current));
		await flow.waitForFrame('Dry run:');
		await flow.press('a');
		const confirm = await flow.waitForFrame('Apply 2 migrations to');
		expect(confirm).toContain('• 1_create_users (one transaction)');
		expect(confirm).toContain('each in its own transaction');
		expect(confirm).toMatch(/y\s+apply 2/);
		expect(confirm).toMatch(/esc\s+back to the plan/);
		await flow.press(keys.enter);
		await flow.press(keys.enter);
		expect(flow.frame()).toContain('Apply 2 migrations to');
		await flow.press(keys.escape);
		await flow.waitForFrame('Dry run:');
		await flow.press(keys.escape);
		expect((await flow.waitForExit()).status).toBe('cancelled');
		expect(await ledgerVersions(database.url)).toEqual([]);
		expect(await relationExists(database.url, 'public.users')).toBe(false);
		flow.unmount();
	});

	it('refuses to start in a read-only console', async () => {
		const flow = renderFlow(MigrateFlow, migrationFlowContext(database.url, project.current, {readonly: true}));
		const frame = await flow.waitForFrame('Refused');
		expect(frame).toContain('--readonly');
		expect(frame).toContain('Nothing was done');
		expect(frame).toMatch(/esc\s+back/);
		await flow.press('y');
		await flow.press(keys.enter);
		await flow.press(keys.escape);
		expect((await flow.waitForExit()).status).toBe('cancelled');
		expect(await relationExists(database.url, 'public.__ms_migrations')).toBe(false);
		flow.unmount();
	});
});

describe('MigrateFlow: apply', () => {
	const database = useTestDatabase('ui_migrate_apply');
	const project = useMigrationProject({migrations: {'1_create_users.sql': USERS_SQL, '2_add_email.sql': EMAIL_SQL, '3_add_index.sql': 'CREATE INDEX users_name ON users (name);\n'}});

	it('t applies up to the highlighted migration only', async () => {
		const flow = renderFlow(MigrateFlow, migrationFlowContext(database.url, project.current));
		await flow.waitForFrame('3 pending migrations would be applied');
		await flow.press('j');
		await flow.waitForFrame('❯ 2_add_email');
		await flow.press('t');
		const confirm = await flow.waitForFrame('Apply 2 migrations to');
		expect(confirm).toContain('1 newer pending migration(s) stay pending');
		await flow.press('y');
		await flow.waitForFrame('Applied 2 migration(s) (1_create_users, 2_add_email); now at version 2.');
		await flow.press(keys.enter);
		expect(await flow.waitForExit()).toEqual({status: 'done', summary: 'Applied 2 migration(s) (1_create_users, 2_add_email); now at version 2.'});
		expect(await ledgerVersions(database.url)).toEqual([1, 2]);
		flow.unmount();
	});

	it('confirm with y shows progress per migration, then the summary; the ledger has the rows', async () => {
		const flow = renderFlow(MigrateFlow, migrationFlowContext(database.url, project.current));
		await flow.waitForFrame('1 pending migration would be applied');
		await flow.press('a');
		await flow.waitForFrame('Apply 1 migration to');
		await flow.press('y');
		const summary = await flow.waitForFrame('✔ Applied 1 migration(s) (3_add_index); now at version 3.');
		expect(summary).toMatch(/✔ 3_add_index \d+ ms/);
		expect(summary).toContain('1 of 1 applied');
		expect(summary).toMatch(/enter esc\s+back to the console/);
		expect(flow.allFrames()).toMatch(/esc\s+cancel \(rolls back the current migration\)/);
		await flow.press(keys.escape);
		expect((await flow.waitForExit()).status).toBe('done');
		expect(await ledgerVersions(database.url)).toEqual([1, 2, 3]);
		expect(await relationExists(database.url, 'public.users_name')).toBe(true);
		flow.unmount();
	});

	it('says there is nothing to apply when everything is applied', async () => {
		const flow = renderFlow(MigrateFlow, migrationFlowContext(database.url, project.current));
		await flow.waitForFrame('Nothing to apply');
		expect(flow.frame()).toContain('at version 3');
		await flow.press(keys.escape);
		expect(await flow.waitForExit()).toEqual({status: 'done', summary: 'Nothing to apply; the database is at version 3.'});
		flow.unmount();
	});
});

describe('MigrateFlow: failure and cancel', () => {
	const database = useTestDatabase('ui_migrate_failure');
	const project = useMigrationProject({
		migrations: {
			'1_create_users.sql': USERS_SQL,
			'2_broken.sql': '-- refers to a table that does not exist\nSELECT 1;\nSELECT id FROM no_such_table;\n',
		},
	});

	it('a failing migration shows the file, line, server error and the failing line; earlier ones stay applied', async () => {
		const flow = renderFlow(MigrateFlow, migrationFlowContext(database.url, project.current));
		await flow.waitForFrame('2 pending migrations would be applied');
		await flow.press('a');
		await flow.waitForFrame('Apply 2 migrations');
		await flow.press('y');
		const failure = await flow.waitForFrame('✖ Migration 2 (broken) failed and was not applied');
		expect(failure).toMatch(/✔ 1_create_users/);
		expect(failure).toMatch(/✖ 2_broken failed/);
		expect(failure).toMatch(/file\s+\S*2_broken\.sql:3:16/);
		expect(failure).toContain('SQLSTATE 42P01: relation "no_such_table" does not exist');
		expect(failure).toContain('3 │ SELECT id FROM no_such_table;');
		expect(failure).toContain('→ Nothing from this file was kept');
		expect(failure).toContain('(E_MIGRATION_FAILED)');
		await flow.press(keys.escape);
		const outcome = await flow.waitForExit();
		expect(outcome.status).toBe('failed');
		expect(outcome.summary).toBe('Migrate failed at 2_broken: relation "no_such_table" does not exist; 1_create_users applied.');
		expect(await ledgerVersions(database.url)).toEqual([1]);
		flow.unmount();
	});

	it('esc during a run cancels the running statement on the server and rolls that migration back', async () => {
		await project.current.writeMigration('2_broken.sql', 'CREATE TABLE slow (id int);\nSELECT pg_sleep(30);\n');
		const flow = renderFlow(MigrateFlow, migrationFlowContext(database.url, project.current));
		await flow.waitForFrame('1 pending migration would be applied');
		await flow.press('a');
		await flow.press('y');
		await flow.waitForFrame('applying 2_broken');
		const started = Date.now();
		await flow.press(keys.escape);
		const cancelled = await flow.waitForFrame('Cancelled.');
		expect(Date.now() - started).toBeLessThan(10_000);
		expect(flow.allFrames()).toContain('Cancelling: the statement running on the server is cancelled and the current migration rolled back');
		expect(cancelled).toContain('2_broken.sql was stopped and rolled back');
		expect(cancelled).toContain('■ 2_broken stopped by the cancel');
		expect(cancelled).toContain('Migrate cancelled on');
		await flow.press(keys.enter);
		expect(await flow.waitForExit()).toEqual({status: 'cancelled', summary: 'Migrate cancelled; nothing was applied.'});
		expect(await ledgerVersions(database.url)).toEqual([1]);
		expect(await relationExists(database.url, 'public.slow')).toBe(false);
		flow.unmount();
	});
});

describe('MigrateFlow: the plan changes between review and run', () => {
	const database = useTestDatabase('ui_migrate_plan_changed');
	const project = useMigrationProject({migrations: {'1_create_users.sql': USERS_SQL, '2_add_email.sql': EMAIL_SQL}});

	it('stops before applying anything and offers to review the new plan', async () => {
		const context = migrationFlowContext(database.url, project.current);
		const flow = renderFlow(MigrateFlow, context);
		await flow.waitForFrame('2 pending migrations would be applied');
		await flow.press('a');
		await flow.waitForFrame('Apply 2 migrations to');
		// Another deploy applies the first one while this screen waits for y.
		await applyMigrations(flowMigrationSettings(context), {target: 1});
		await flow.press('y');
		const stopped = await flow.waitForFrame('nothing was applied.');
		expect(stopped).toContain('The pending migrations changed since you reviewed them');
		expect(stopped).toMatch(/r\s+review the new plan/);
		expect(await ledgerVersions(database.url)).toEqual([1]);
		await flow.press('r');
		const again = await flow.waitForFrame('Dry run:');
		expect(again).toContain('1 pending migration would be applied');
		expect(again).toContain('now at version 1');
		await flow.press(keys.escape);
		expect((await flow.waitForExit()).status).toBe('cancelled');
		expect(await relationExists(database.url, 'public.users')).toBe(true);
		expect(await ledgerVersions(database.url)).toEqual([1]);
		flow.unmount();
	});
});

describe('MigrateFlow: a folder the core refuses', () => {
	const database = useTestDatabase('ui_migrate_refused');
	const project = useMigrationProject({migrations: {'1_create_users.sql': USERS_SQL, 'notes.txt': 'not a migration'}});

	it('shows why nothing can be planned, with the next step; r tries again, esc leaves', async () => {
		const flow = renderFlow(MigrateFlow, migrationFlowContext(database.url, project.current));
		const refused = await flow.waitForFrame('(E_MIGRATIONS_INVALID)');
		expect(refused).toContain('Could not plan the migration; nothing was applied.');
		expect(refused).toContain('notes.txt');
		expect(refused).toMatch(/r\s+try again/);
		await flow.press('r');
		await flow.waitForFrame('(E_MIGRATIONS_INVALID)');
		await flow.press(keys.escape);
		const outcome = await flow.waitForExit();
		expect(outcome.status).toBe('failed');
		expect(outcome.summary).toMatch(/^Migrate: .*nothing was applied\.$/);
		expect(await relationExists(database.url, 'public.__ms_migrations')).toBe(false);
		flow.unmount();
	});
});
