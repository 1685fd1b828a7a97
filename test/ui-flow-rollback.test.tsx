import {describe, expect, it} from 'vitest';
import {applyMigrations} from '../source/core/migrations/apply.js';
import {flowMigrationSettings} from '../source/ui/flows/flow-migration-settings.js';
import {RollbackFlow} from '../source/ui/flows/rollback-flow.js';
import {keys, migrationFlowContext, renderFlow} from './support/flow-harness.js';
import {useMigrationProject, type MigrationProject, type MigrationProjectFiles} from './support/migration-project.js';
import {query, relationExists} from './support/sql.js';
import {useTestDatabase, type TestDatabaseHandle} from './support/test-database.js';

const FILES: MigrationProjectFiles = {
	migrations: {
		'1_create_users.sql': 'CREATE TABLE users (id bigint PRIMARY KEY);\n',
		'2_create_orders.sql': 'CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users);\n',
		'3_add_email.sql': 'ALTER TABLE users ADD COLUMN email text;\n',
	},
	rollbacks: {
		'1_create_users.sql': 'DROP TABLE users;\n',
		'2_create_orders.sql': '-- the orders go, with their rows\nDROP TABLE orders;\n',
		'3_add_email.sql': 'ALTER TABLE users DROP COLUMN email;\n',
	},
};

async function ledgerVersions(url: string): Promise<number[]> {
	const rows = await query<{version: string}>(url, 'SELECT version FROM public.__ms_migrations ORDER BY version');
	return rows.map(row => Number(row.version));
}

/** A migration folder, applied to `database` before the describe's tests run. */
function useAppliedProject(database: TestDatabaseHandle, files: MigrationProjectFiles): {readonly current: MigrationProject} {
	return useMigrationProject(files, async project => applyMigrations(flowMigrationSettings(migrationFlowContext(database.url, project))));
}

describe('RollbackFlow', () => {
	const database = useTestDatabase('ui_rollback');
	const project = useAppliedProject(database, FILES);

	it('esc at every step goes back, and leaving changes nothing', async () => {
		const flow = renderFlow(RollbackFlow, migrationFlowContext(database.url, project.current));
		await flow.waitForFrame('choose the oldest migration to undo');
		await flow.press(keys.enter);
		await flow.waitForFrame('Dry run:');
		await flow.press('c');
		await flow.waitForFrame('Type rollback and press enter');
		await flow.press(keys.escape);
		await flow.waitForFrame('Dry run:');
		await flow.press(keys.escape);
		await flow.waitForFrame('choose the oldest migration to undo');
		await flow.press(keys.escape);
		expect(await flow.waitForExit()).toEqual({status: 'cancelled', summary: 'Rollback cancelled; nothing was rolled back.'});
		expect(flow.onExit).toHaveBeenCalledTimes(1);
		expect(await ledgerVersions(database.url)).toEqual([1, 2, 3]);
		flow.unmount();
	});

	it('choose a target, read its rollback SQL, type the confirmation, watch it run; the ledger follows', async () => {
		const flow = renderFlow(RollbackFlow, migrationFlowContext(database.url, project.current));
		const choose = await flow.waitForFrame('choose the oldest migration to undo');
		// Newest first; the highlighted one and every newer one are marked.
		expect(choose).toMatch(/❯ ↩ 3_add_email\s+applied \S+ \S+ by ui-flow-test\n\s+2_create_orders/);
		expect(choose).toContain('now at version 3');
		expect(choose).toContain('Rolls back to version 2: undoes 1 migration.');
		expect(choose).toMatch(/enter\s+review the rollback SQL/);
		await flow.press('j');
		const two = await flow.waitForFrame('Rolls back to version 1: undoes 2 migrations.');
		expect(two).toMatch(/↩ 3_add_email[\s\S]*❯ ↩ 2_create_orders[\s\S]* {2}1_create_users/);

		await flow.press(keys.enter);
		const plan = await flow.waitForFrame('Dry run: 2 migrations would be rolled back, to version 1. Nothing has been changed.');
		expect(plan).toContain('rollback of 3_add_email (stored when it was applied) · one transaction');
		expect(plan).toContain('1 │ ALTER TABLE users DROP COLUMN email;');
		expect(plan).toMatch(/c\s+confirm rolling back 2/);
		await flow.press('j');
		await flow.waitForFrame('2 │ DROP TABLE orders;');
		await flow.press(keys.enter);
		await flow.waitForFrame('esc back to the plan');
		expect(flow.frame()).toContain('1 │ -- the orders go, with their rows');
		await flow.press(keys.escape);
		await flow.waitForFrame('Dry run:');

		await flow.press('c');
		const confirm = await flow.waitForFrame('Type rollback and press enter to confirm.');
		expect(confirm).toContain('Roll back 2 migrations on');
		expect(confirm).toContain('↩ 3_add_email');
		expect(confirm).toContain('usually drops tables or');
		// Enter alone, a half-typed word, or the wrong word: nothing happens.
		await flow.press(keys.enter);
		await flow.waitForFrame('“” does not match “rollback”: nothing was done');
		await flow.type('rollbac');
		await flow.press(keys.enter);
		await flow.waitForFrame('“rollbac” does not match');
		expect(await ledgerVersions(database.url)).toEqual([1, 2, 3]);
		await flow.type('k');
		await flow.press(keys.enter);

		const summary = await flow.waitForFrame('✔ Rolled back 2 migration(s) (3_add_email, 2_create_orders); now at version 1.');
		expect(summary).toMatch(/✔ 3_add_email \d+ ms/);
		expect(summary).toMatch(/✔ 2_create_orders \d+ ms/);
		expect(summary).toContain('2 of 2 rolled back');
		await flow.press(keys.enter);
		expect(await flow.waitForExit()).toEqual({status: 'done', summary: 'Rolled back 2 migration(s) (3_add_email, 2_create_orders); now at version 1.'});
		expect(await ledgerVersions(database.url)).toEqual([1]);
		expect(await relationExists(database.url, 'public.orders')).toBe(false);
		expect(await relationExists(database.url, 'public.users')).toBe(true);
		flow.unmount();
	});

	it('refuses to start in a read-only console', async () => {
		const flow = renderFlow(RollbackFlow, migrationFlowContext(database.url, project.current, {readonly: true}));
		await flow.waitForFrame('Refused: the console runs with --readonly, so it does not roll back migrations.');
		await flow.press(keys.enter);
		await flow.press(keys.escape);
		expect((await flow.waitForExit()).status).toBe('cancelled');
		expect(await ledgerVersions(database.url)).toEqual([1]);
		flow.unmount();
	});
});

describe('RollbackFlow: failures', () => {
	const database = useTestDatabase('ui_rollback_failure');
	const project = useAppliedProject(database, {
		migrations: {
			'1_without_undo.sql': 'CREATE TABLE kept (id int);\n',
			'2_create_tags.sql': 'CREATE TABLE tags (id int);\n',
			'3_bad_undo.sql': 'CREATE TABLE notes (id int);\n',
		},
		rollbacks: {
			'2_create_tags.sql': 'DROP TABLE tags;\n',
			'3_bad_undo.sql': 'DROP TABLE notes;\nDROP TABLE no_such_table;\n',
		},
	});

	it('a failing rollback shows where in the stored SQL and the server error; it stays applied', async () => {
		const flow = renderFlow(RollbackFlow, migrationFlowContext(database.url, project.current));
		await flow.waitForFrame('choose the oldest migration to undo');
		await flow.press(keys.enter);
		await flow.waitForFrame('Dry run: 1 migration would be rolled back');
		await flow.press('c');
		await flow.waitForFrame('Type rollback');
		await flow.type('rollback');
		await flow.press(keys.enter);
		const failure = await flow.waitForFrame('Rollback of 3 (bad_undo) failed; it stays applied');
		expect(failure).toContain('Rollback failed on');
		expect(failure).toMatch(/✖ 3_bad_undo failed/);
		expect(failure).toMatch(/file\s+rollback of 3_bad_undo \(stored at apply time\):2:\d+/);
		expect(failure).toContain('SQLSTATE 42P01: table "no_such_table" does not exist');
		expect(failure).toContain('2 │ DROP TABLE no_such_table;');
		await flow.press(keys.escape);
		const outcome = await flow.waitForExit();
		expect(outcome).toEqual({status: 'failed', summary: 'Rollback failed at 3_bad_undo: table "no_such_table" does not exist; nothing was rolled back.'});
		expect(await ledgerVersions(database.url)).toEqual([1, 2, 3]);
		expect(await relationExists(database.url, 'public.notes')).toBe(true);
		flow.unmount();
	});

	it('a target that includes a migration without rollback SQL is refused at the plan, before anything runs', async () => {
		const flow = renderFlow(RollbackFlow, migrationFlowContext(database.url, project.current));
		const choose = await flow.waitForFrame('choose the oldest migration to undo');
		expect(choose).toMatch(/1_without_undo\s+no rollback SQL · applied/);
		await flow.press('G');
		await flow.waitForFrame('Rolls back to version 0 (before the first migration): undoes 3 migrations.');
		await flow.press(keys.enter);
		const refused = await flow.waitForFrame('(E_ROLLBACK_MISSING)');
		expect(refused).toContain('This rollback cannot run as chosen; nothing was rolled back.');
		expect(refused).toContain('1 (without_undo) was applied without a rollback file');
		expect(refused).toMatch(/esc\s+choose again/);
		await flow.press('c');
		await flow.press(keys.escape);
		await flow.waitForFrame('choose the oldest migration to undo');
		await flow.press(keys.escape);
		expect((await flow.waitForExit()).status).toBe('cancelled');
		expect(await ledgerVersions(database.url)).toEqual([1, 2, 3]);
		flow.unmount();
	});

	it('stops before rolling back anything when the applied migrations changed after the review', async () => {
		const flow = renderFlow(RollbackFlow, migrationFlowContext(database.url, project.current));
		await flow.waitForFrame('choose the oldest migration to undo');
		await flow.press('j');
		await flow.waitForFrame('undoes 2 migrations');
		await flow.press(keys.enter);
		await flow.waitForFrame('Dry run: 2 migrations would be rolled back');
		await flow.press('c');
		await flow.waitForFrame('Type rollback');
		// Someone else rolls back 3 by hand meanwhile: the plan is now [2], not the reviewed [3, 2].
		await query(database.url, 'DROP TABLE notes; DELETE FROM public.__ms_migrations WHERE version = 3');
		await flow.type('rollback');
		await flow.press(keys.enter);
		const stopped = await flow.waitForFrame('nothing was rolled back.');
		expect(stopped).toContain('The applied migrations changed since you reviewed them');
		expect(stopped).toMatch(/r\s+review the new plan/);
		await flow.press('r');
		const again = await flow.waitForFrame('choose the oldest migration to undo');
		expect(again).toContain('now at version 2');
		await flow.press(keys.escape);
		expect((await flow.waitForExit()).status).toBe('cancelled');
		expect(await ledgerVersions(database.url)).toEqual([1, 2]);
		expect(await relationExists(database.url, 'public.tags')).toBe(true);
		flow.unmount();
	});
});
