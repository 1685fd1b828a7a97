import {mkdtemp, readdir, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {applyMigrations} from '../source/core/migrations/apply.js';
import {flowMigrationSettings} from '../source/ui/flows/flow-migration-settings.js';
import {ResetFlow} from '../source/ui/flows/reset-flow.js';
import {keys, migrationFlowContext, renderFlow} from './support/flow-harness.js';
import {useMigrationProject, type MigrationProject} from './support/migration-project.js';
import {query, relationExists} from './support/sql.js';
import {useTestDatabase, type TestDatabaseHandle} from './support/test-database.js';

const FILES = {
	migrations: {
		'1_create_users.sql': 'CREATE TABLE users (id bigint PRIMARY KEY, name text);\nINSERT INTO users VALUES (1, \'ada\');\n',
		'2_create_orders.sql': 'CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users);\n',
		'3_legacy_note.sql': 'ALTER TABLE legacy ADD COLUMN note text;\n',
	},
};

type Setup = {readonly project: MigrationProject; readonly database: TestDatabaseHandle; apply(): Promise<void>};

/**
 * A database with a table from before msdb (`legacy`, in the baseline, so reset keeps it) and
 * three migrations applied: two tables and a column on the legacy table.
 */
function useMigratedDatabase(label: string): Setup {
	const database = useTestDatabase(label);
	const applyTo = async (project: MigrationProject) => {
		await applyMigrations(flowMigrationSettings(migrationFlowContext(database.url, project)));
	};

	const project = useMigrationProject(FILES, async created => {
		await query(database.url, 'CREATE TABLE legacy (id int); INSERT INTO legacy VALUES (7)');
		await applyTo(created);
	});
	return {
		get project() {
			return project.current;
		},
		database,
		async apply() {
			await applyTo(project.current);
		},
	};
}

function contextFor(setup: Setup, overrides: Parameters<typeof migrationFlowContext>[2] = {}) {
	return migrationFlowContext(setup.database.url, setup.project, overrides);
}

async function nothingDropped(setup: Setup): Promise<void> {
	expect(await relationExists(setup.database.url, 'public.users')).toBe(true);
	expect(await relationExists(setup.database.url, 'public.orders')).toBe(true);
	expect(await relationExists(setup.database.url, 'public.__ms_migrations')).toBe(true);
	expect(await query(setup.database.url, 'SELECT name FROM users')).toEqual([{name: 'ada'}]);
}

describe('ResetFlow: review, cancel, wrong name', () => {
	const setup = useMigratedDatabase('ui_reset_review');

	it('shows what will be dropped and what reset cannot undo; esc leaves with nothing dropped', async () => {
		const flow = renderFlow(ResetFlow, contextFor(setup));
		const review = await flow.waitForFrame('Nothing has been changed yet');
		expect(review).toContain(`Reset ${setup.database.name}:`);
		expect(review).toContain('drops everything the migrations created, in one transaction');
		expect(review).toContain('table public.orders');
		expect(review).toContain('table public.users');
		expect(review).toContain('column public.legacy.note');
		expect(review).not.toMatch(/table public\.legacy\b(?!\.)/);
		expect(review).toContain('The history table is kept and records the reset.');
		expect(review).toMatch(/s\s+show the SQL/);
		expect(review).toMatch(/c\s+continue/);
		expect(review).toMatch(/esc\s+back/);

		await flow.press('s');
		const statements = await flow.waitForFrame('in one transaction');
		expect(statements).toMatch(/DROP TABLE IF EXISTS "?public"?\."?users"? CASCADE;/);
		await flow.press(keys.escape);
		await flow.waitForFrame('Nothing has been changed yet');

		await flow.press(keys.escape);
		expect(await flow.waitForExit()).toEqual({status: 'cancelled', summary: 'Reset cancelled; nothing was dropped.'});
		await nothingDropped(setup);
		flow.unmount();
	});

	it('without a backup target it says so; a wrong or partial name never resets; esc backs out step by step', async () => {
		const flow = renderFlow(ResetFlow, contextFor(setup));
		await flow.waitForFrame('Nothing has been changed yet');
		await flow.press('c');
		const offer = await flow.waitForFrame('No backup target is configured');
		expect(offer).toContain(`Back up ${setup.database.name} first?`);
		expect(offer).toContain('MSDB_BACKUP_TARGET');
		expect(offer).toMatch(/s\s+go on without a backup/);
		// No target: b does nothing.
		await flow.press('b');
		expect(flow.frame()).toContain('No backup target is configured');
		await flow.press('s');
		const confirm = await flow.waitForFrame('To confirm, type the name of the database.');
		expect(confirm).toContain('No backup was taken: you chose to go on without one.');
		expect(confirm).toContain(`Type ${setup.database.name} and press enter to confirm.`);

		await flow.type(setup.database.name.slice(0, -1));
		await flow.press(keys.enter);
		await flow.waitForFrame('does not match');
		await flow.type('xx');
		await flow.press(keys.enter);
		await flow.waitForFrame(`${setup.database.name.slice(0, -1)}xx” does not match`);
		await nothingDropped(setup);

		await flow.press(keys.escape);
		await flow.waitForFrame('No backup target is configured');
		await flow.press(keys.escape);
		await flow.waitForFrame('Nothing has been changed yet');
		await flow.press(keys.escape);
		expect((await flow.waitForExit()).status).toBe('cancelled');
		await nothingDropped(setup);
		flow.unmount();
	});

	it('a failed backup says nothing was kept or dropped, and offers to retry or go on', async () => {
		const flow = renderFlow(ResetFlow, contextFor(setup, {backupTarget: 's3://Not_A_Bucket/x'}));
		await flow.waitForFrame('Nothing has been changed yet');
		await flow.press('c');
		await flow.waitForFrame('back up now');
		await flow.press('b');
		const failed = await flow.waitForFrame('(E_BACKUP_TARGET_INVALID)');
		expect(failed).toContain('The backup did not complete; no backup was kept, and nothing was dropped.');
		expect(failed).toMatch(/b\s+try the backup again/);
		expect(failed).toMatch(/s\s+go on without a backup/);
		await flow.press(keys.escape);
		await flow.waitForFrame('Nothing has been changed yet');
		await flow.press(keys.escape);
		expect((await flow.waitForExit()).status).toBe('cancelled');
		await nothingDropped(setup);
		flow.unmount();
	});

	it('esc while the reset waits on a lock cancels it, and nothing is dropped', async () => {
		const blocker = new pg.Client({connectionString: setup.database.url});
		await blocker.connect();
		try {
			const flow = renderFlow(ResetFlow, contextFor(setup));
			await flow.waitForFrame('Nothing has been changed yet');
			await flow.press('c');
			await flow.press('s');
			await flow.waitForFrame('To confirm, type the name of the database.');
			// Another session holds a table the reset must drop, so the reset waits on its lock.
			await blocker.query('BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
			await flow.type(setup.database.name);
			await flow.press(keys.enter);
			const running = await flow.waitForFrame(`Resetting ${setup.database.name} in one transaction`);
			expect(running).toMatch(/esc\s+cancel \(the transaction rolls back; nothing is dropped\)/);
			await flow.press(keys.escape);
			const cancelled = await flow.waitForFrame('(E_CANCELLED)');
			expect(cancelled).toMatch(/nothing was\s+dropped/);
			await flow.press(keys.enter);
			expect(await flow.waitForExit()).toEqual({status: 'cancelled', summary: `Reset of ${setup.database.name} cancelled and rolled back; nothing was dropped.`});
			flow.unmount();
		} finally {
			await blocker.query('ROLLBACK');
			await blocker.end();
		}

		await nothingDropped(setup);
	});

	it('refuses to start in a read-only console', async () => {
		const flow = renderFlow(ResetFlow, contextFor(setup, {readonly: true}));
		await flow.waitForFrame('Refused: the console runs with --readonly, so it does not reset the database.');
		await flow.press('c');
		await flow.press(keys.escape);
		expect(await flow.waitForExit()).toEqual({status: 'cancelled', summary: 'Reset refused: the console is read-only.'});
		await nothingDropped(setup);
		flow.unmount();
	});

	it('shows the plan but offers no way on when MSDB_ENV is production', async () => {
		const flow = renderFlow(ResetFlow, contextFor(setup, {env: {MSDB_ENV: 'production', MSDB_ACTOR: 'ui-flow-test'}}));
		const review = await flow.waitForFrame('Refused: MSDB_ENV is production');
		expect(review).toContain('table public.users');
		expect(review).not.toMatch(/c\s+continue/);
		await flow.press('c');
		expect(flow.frame()).toContain('Refused: MSDB_ENV is production');
		await flow.press(keys.escape);
		expect((await flow.waitForExit()).status).toBe('cancelled');
		await nothingDropped(setup);
		flow.unmount();
	});
});

describe('ResetFlow: reset', () => {
	const setup = useMigratedDatabase('ui_reset_run');
	let backupRoot = '';
	beforeAll(async () => {
		backupRoot = await mkdtemp(path.join(tmpdir(), 'msdb-ui-reset-backup-'));
	});
	afterAll(async () => rm(backupRoot, {recursive: true, force: true}));

	it('backs up first, then the full database name resets it; the backup and the baseline objects remain', async () => {
		const flow = renderFlow(ResetFlow, contextFor(setup, {backupTarget: backupRoot}));
		await flow.waitForFrame('Nothing has been changed yet');
		await flow.press('c');
		const offer = await flow.waitForFrame('back up now');
		expect(offer).toContain(`A PostgreSQL backup (pg_dump) to ${backupRoot}`);
		expect(offer).toMatch(/s\s+skip the backup/);
		await flow.press('b');
		const backedUp = await flow.waitForFrame('✔ Backup ', 60_000);
		expect(backedUp).toMatch(/enter\s+go on to the confirmation/);
		const [id] = await readdir(backupRoot);
		expect(id).toBeDefined();
		expect(await readdir(path.join(backupRoot, id!))).toContain('manifest.json');
		expect(flow.allFrames()).toContain('Backing up');
		await nothingDropped(setup);

		await flow.press(keys.enter);
		const confirm = await flow.waitForFrame('To confirm, type the name of the database.');
		expect(confirm).toContain(`✔ Backup ${id} is at`);
		expect(confirm).toContain('except by restoring that backup');
		await flow.type(setup.database.name);
		await flow.press(keys.enter);
		const done = await flow.waitForFrame('✔ Reset ');
		expect(done).toMatch(/dropped \d+ object\(s\) and the ledger/);
		await flow.press(keys.enter);
		const outcome = await flow.waitForExit();
		expect(outcome.status).toBe('done');
		expect(outcome.summary).toMatch(new RegExp(`^Reset ${setup.database.name}: dropped \\d+ object\\(s\\) and the ledger\\. Backup taken first: ${id}\\.$`));

		expect(await relationExists(setup.database.url, 'public.users')).toBe(false);
		expect(await relationExists(setup.database.url, 'public.orders')).toBe(false);
		expect(await relationExists(setup.database.url, 'public.__ms_migrations')).toBe(false);
		expect(await query(setup.database.url, 'SELECT * FROM legacy')).toEqual([{id: 7}]);
		flow.unmount();
	});

	it('skipping the backup and typing the name resets too; a reset database has nothing left to reset', async () => {
		await setup.apply();
		const flow = renderFlow(ResetFlow, contextFor(setup, {backupTarget: backupRoot}));
		await flow.waitForFrame('Nothing has been changed yet');
		await flow.press('c');
		await flow.waitForFrame('back up now');
		await flow.press('s');
		await flow.waitForFrame('To confirm, type the name of the database.');
		// A paste of the name works as well as typing it.
		await flow.press(setup.database.name);
		await flow.press(keys.enter);
		await flow.waitForFrame('✔ Reset ');
		await flow.press(keys.escape);
		expect((await flow.waitForExit()).summary).toMatch(/and the ledger\.$/);
		expect(await relationExists(setup.database.url, 'public.users')).toBe(false);
		expect(await readdir(backupRoot)).toHaveLength(1);
		flow.unmount();

		const again = renderFlow(ResetFlow, contextFor(setup));
		await again.waitForFrame('Nothing to reset');
		await again.press(keys.escape);
		expect((await again.waitForExit()).status).toBe('done');
		again.unmount();
	});
});
