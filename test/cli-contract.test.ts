import {readFile, rm} from 'node:fs/promises';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {createTestDatabase, type TestDatabase} from './support/test-database.js';
import {createMigrationProject, type MigrationProject} from './support/migration-project.js';
import {runMsdb} from './support/run-msdb.js';
import {query, relationExists} from './support/sql.js';

const GOOD = {migrations: {'0001_a.sql': 'CREATE TABLE a (id int);\n'}, rollbacks: {'0001_a.sql': 'DROP TABLE a;\n'}};

describe('bad input is refused with exit 2, names the file, and leaves the database untouched', () => {
	let database: TestDatabase;
	beforeAll(async () => {
		database = await createTestDatabase('bad_input');
	});
	afterAll(async () => database.drop());

	const cases: Array<[string, (project: MigrationProject) => Promise<unknown>, string]> = [
		['a stray notes.sql', async project => project.writeMigration('notes.sql', 'SELECT 1;'), 'notes.sql'],
		['two files with one version', async project => project.writeMigration('1_again.sql', 'SELECT 1;'), '1_again.sql'],
		['a rollback with no migration', async project => project.writeRollback('0002_orphan.sql', 'SELECT 1;'), '0002_orphan.sql'],
		['a name with capitals', async project => project.writeMigration('0002_AddUsers.sql', 'SELECT 1;'), '0002_AddUsers.sql'],
		['a name with spaces', async project => project.writeMigration('0002_add users.sql', 'SELECT 1;'), '0002_add users.sql'],
		['an empty file', async project => project.writeMigration('0002_empty.sql', ''), '0002_empty.sql'],
		['an unknown directive', async project => project.writeMigration('0002_x.sql', '-- msdb:no-transation\nSELECT 1;'), '0002_x.sql'],
		// The folder as the user would give it: the default, relative to the working directory.
		['a missing migrations folder', async project => rm(project.migrationsDir, {recursive: true}), 'The migrations folder ./migrations does not exist'],
		['a missing rollbacks folder', async project => rm(project.rollbacksDir, {recursive: true}), 'The rollbacks folder ./rollbacks does not exist'],
	];

	it.each(cases)('%s', async (_label, breakIt, named) => {
		const project = await createMigrationProject(GOOD);
		try {
			await breakIt(project);
			for (const command of [['migrate', 'apply'], ['migrate', 'status'], ['migrate', 'rollback']]) {
				const run = await runMsdb([...command, '--json'], {cwd: project.dir, env: {DATABASE_URL: database.url}});
				expect(run.exitCode, `${command.join(' ')}: ${run.stderr}`).toBe(2);
				expect(run.json.error.code).toBe('E_MIGRATIONS_INVALID');
				expect(run.stderr).toContain(named);
				expect(run.json.error.nextStep).toBeTruthy();
			}

			const objects = await query(database.url, "SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace");
			expect(objects[0].n).toBe(0);
		} finally {
			await project.remove();
		}
	});

	it('names a missing folder by its full path, before connecting to the database', async () => {
		const project = await createMigrationProject(GOOD);
		try {
			const missing = path.join(project.dir, 'elsewhere', 'migrations');
			for (const command of [['migrate', 'apply'], ['migrate', 'status'], ['migrate', 'rollback'], ['migrate', 'validate']]) {
				const args = [...command, '--migrations-dir', missing];
				const run = await runMsdb([...args, '--json'], {cwd: project.dir, env: {DATABASE_URL: database.url}});
				expect(run.exitCode, `${command.join(' ')}: ${run.stderr}`).toBe(2);
				expect(run.json.error).toMatchObject({code: 'E_MIGRATIONS_INVALID', message: `The migrations folder ${missing} does not exist.`, details: {folder: missing}});
				const human = await runMsdb(args, {cwd: project.dir, env: {DATABASE_URL: database.url}});
				expect(human.exitCode).toBe(2);
				expect(human.stderr).toContain(`The migrations folder ${missing} does not exist.`);
				// A server nobody listens on: had msdb connected first, this would be exit 1, E_DATABASE_UNREACHABLE.
				const unreachable = await runMsdb([...args, '--json'], {cwd: project.dir, env: {DATABASE_URL: 'postgres://postgres@127.0.0.1:1/postgres'}});
				expect(unreachable.exitCode, unreachable.stderr).toBe(2);
				expect(unreachable.json.error.code).toBe('E_MIGRATIONS_INVALID');
			}

			expect(await relationExists(database.url, 'public.__ms_migrations')).toBe(false);
			expect(await relationExists(database.url, 'public.__ms_migrations_history')).toBe(false);
		} finally {
			await project.remove();
		}
	});

	it('apply refuses a no-transaction file PostgreSQL\'s parser rejects before running anything', async () => {
		const project = await createMigrationProject(GOOD);
		try {
			await project.writeMigration('0002_x.sql', '-- msdb:no-transaction\nCREATE INDEX CONCURENTLY i ON a (id);\n');
			const run = await runMsdb(['migrate', 'apply', '--json'], {cwd: project.dir, env: {DATABASE_URL: database.url}});
			expect(run.exitCode).toBe(2);
			expect(run.stderr).toContain('0002_x.sql:2:');
			const objects = await query(database.url, "SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace");
			expect(objects[0].n).toBe(0);
			const validate = await runMsdb(['migrate', 'validate', '--json'], {cwd: project.dir, env: {DATABASE_URL: database.url}});
			expect(validate.exitCode).toBe(3);
			expect(validate.json.problems).toContainEqual(expect.objectContaining({kind: 'unparseable', version: 2, line: 2}));
		} finally {
			await project.remove();
		}
	});

	it('validate lists every bad file at once (exit 3)', async () => {
		const project = await createMigrationProject(GOOD);
		try {
			await project.writeMigration('notes.sql', 'x');
			await project.writeMigration('0002_empty.sql', '');
			await project.writeRollback('0009_orphan.sql', 'SELECT 1;');
			const run = await runMsdb(['migrate', 'validate', '--json'], {cwd: project.dir, env: {DATABASE_URL: database.url}});
			expect(run.exitCode).toBe(3);
			expect(run.json.ok).toBe(false);
			expect(run.json.problems.map((problem: any) => problem.kind).sort()).toEqual(['bad-name', 'empty-file', 'missing-rollback', 'orphan-rollback']);
		} finally {
			await project.remove();
		}
	});
});

describe('the CLI contract', () => {
	let project: MigrationProject;
	beforeAll(async () => {
		project = await createMigrationProject(GOOD);
	});
	afterAll(async () => project.remove());

	it('prints its version (--version, -v), as JSON with --json', async () => {
		const {version} = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {version: string};
		for (const args of [['--version'], ['-v'], ['migrate', 'status', '--version']]) {
			const run = await runMsdb(args, {cwd: project.dir});
			expect(run.exitCode).toBe(0);
			expect(run.stdout).toBe(`msdb ${version}`);
		}

		const json = await runMsdb(['--version', '--json'], {cwd: project.dir});
		expect(json.json).toEqual({name: 'msdb', version});
	});

	it('refuses to open the console without a terminal (exit 2, with a hint)', async () => {
		const run = await runMsdb([], {cwd: project.dir});
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toContain('needs an interactive terminal');
		expect(run.stderr).toContain('--json');
	});

	it.each([
		[['nope'], 'Unknown command'],
		[['migrate'], 'needs a subcommand'],
		[['migrate', 'fly'], 'Unknown command `msdb migrate fly`'],
		[['migrate', 'apply', '--bogus'], "Unknown option '--bogus'"],
		[['migrate', 'apply', '--target', 'abc'], '--target must be a number'],
		[['migrate', 'rollback', '--steps', '0'], '--steps'],
		[['migrate', 'apply', '--lock-timeout', '60'], '--lock-timeout must be a number with a unit'],
		[['migrate', 'accept'], '<version> is required'],
		[['migrate', 'status', 'extra'], 'takes no arguments'],
	])('refuses %j with exit 2', async (args, message) => {
		const run = await runMsdb([...args, '--json'], {cwd: project.dir});
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toContain(message);
		expect(run.json.error.code).toMatch(/^E_(BAD_ARGUMENT|UNKNOWN_COMMAND)$/);
	});

	it('fails with exit 1 and a next step when the server is down', async () => {
		const run = await runMsdb(['migrate', 'status', '--json'], {cwd: project.dir, env: {DATABASE_URL: 'postgres://postgres@127.0.0.1:1/postgres'}});
		expect(run.exitCode).toBe(1);
		expect(run.json.error.code).toBe('E_DATABASE_UNREACHABLE');
		expect(run.json.error.nextStep).toContain('DATABASE_URL');
	});

	it('reads PG* variables when there is no URL', async () => {
		const run = await runMsdb(['migrate', 'status', '--json'], {cwd: project.dir, env: {PGHOST: '127.0.0.1', PGPORT: '1', PGUSER: 'nobody'}});
		expect(run.exitCode).toBe(1);
		expect(run.json.error.message).toContain('postgres://nobody@127.0.0.1:1/nobody');
		expect(run.json.error.message).toContain('PG* environment variables');
	});
});

describe('secrets', () => {
	let database: TestDatabase;
	let project: MigrationProject;
	const PASSWORD = 'Sup3r-Secret-Pa55';

	beforeAll(async () => {
		database = await createTestDatabase('secrets');
		project = await createMigrationProject({
			migrations: {...GOOD.migrations, '0002_breaks.sql': 'SELECT * FROM missing_table;\n'},
			rollbacks: GOOD.rollbacks,
		});
	});
	afterAll(async () => {
		await database.drop();
		await project.remove();
	});

	it('never prints the password of the database URL, on any path', async () => {
		// The test server trusts local connections, so a URL with a password still connects.
		const url = new URL(database.url);
		url.password = PASSWORD;
		const withPassword = url.toString();
		const unreachable = `postgres://postgres:${PASSWORD}@127.0.0.1:1/${database.name}`;
		const malformed = `mysql://root:${PASSWORD}@db/x`;
		const runs = [];
		for (const [databaseUrl, args] of [
			[withPassword, ['migrate', 'status']],
			[withPassword, ['migrate', 'status', '--json']],
			[withPassword, ['migrate', 'apply']],
			[withPassword, ['migrate', 'apply', '--json']],
			[withPassword, ['migrate', 'validate', '--json']],
			[withPassword, ['migrate', 'drift']],
			[withPassword, ['migrate', 'reset', '--confirm', 'wrong']],
			[unreachable, ['migrate', 'status']],
			[unreachable, ['migrate', 'apply', '--json']],
			[malformed, ['migrate', 'status', '--json']],
		] as const) {
			runs.push(await runMsdb([...args], {cwd: project.dir, env: {DATABASE_URL: databaseUrl}}));
			runs.push(await runMsdb([...args, '--database-url', databaseUrl], {cwd: project.dir}));
		}

		const pgPassword = await runMsdb(['migrate', 'status', '--json'], {cwd: project.dir, env: {PGHOST: '127.0.0.1', PGPORT: '1', PGPASSWORD: PASSWORD}});
		runs.push(pgPassword);
		expect(runs.some(run => run.exitCode === 1 && run.json?.error?.code === 'E_MIGRATION_FAILED')).toBe(true);
		expect(runs.some(run => run.json?.error?.code === 'E_DATABASE_UNREACHABLE')).toBe(true);
		expect(runs.some(run => run.json?.error?.code === 'E_CONFIG_INVALID')).toBe(true);
		for (const run of runs) {
			expect(`${run.stdout}\n${run.stderr}`).not.toContain(PASSWORD);
			expect(`${run.stdout}\n${run.stderr}`).not.toContain(encodeURIComponent(PASSWORD));
		}

		const masked = runs.find(run => run.json?.error?.code === 'E_DATABASE_UNREACHABLE');
		expect(masked?.json.error.message).toContain('postgres://postgres:***@127.0.0.1:1/');
	});
});
