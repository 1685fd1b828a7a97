import {afterEach, describe, expect, it} from 'vitest';
import {checksumSql} from '../source/core/migrations/checksum.js';
import {readMigrationSource, readValidMigrationSource} from '../source/core/migrations/migration-source.js';
import {parseDirectives} from '../source/core/migrations/migration-directives.js';
import {createMigrationProject, type MigrationProject} from './support/migration-project.js';

let project: MigrationProject | undefined;
afterEach(async () => {
	await project?.remove();
	project = undefined;
});

async function source(files: {migrations?: Record<string, string>; rollbacks?: Record<string, string>}) {
	project = await createMigrationProject(files);
	return readMigrationSource({migrationsDir: project.migrationsDir, rollbacksDir: project.rollbacksDir});
}

describe('checksums', () => {
	it('are sha256 hex of LF-normalised text without BOM', () => {
		const lf = 'CREATE TABLE a (id int);\nSELECT 1;\n';
		const crlfWithBom = '\uFEFFCREATE TABLE a (id int);\r\nSELECT 1;\r\n';
		expect(checksumSql(lf)).toMatch(/^[0-9a-f]{64}$/);
		expect(checksumSql(crlfWithBom)).toBe(checksumSql(lf));
		expect(checksumSql('SELECT 2;\n')).not.toBe(checksumSql(lf));
	});
});

describe('reading migrations and rollbacks', () => {
	it('pairs files by version, compares versions as integers and accepts _rollback names', async () => {
		const result = await source({
			migrations: {'10_later.sql': 'SELECT 10;', '9_earlier.sql': 'SELECT 9;', '0011_padded.sql': 'SELECT 11;'},
			rollbacks: {'10_later.sql': 'SELECT -10;', '9_earlier_rollback.sql': 'SELECT -9;'},
		});
		expect(result.migrations.map(file => file.version)).toEqual([9, 10, 11]);
		expect(result.migrations[0]?.rollback?.sql).toBe('SELECT -9;');
		expect(result.migrations[1]?.rollback?.sql).toBe('SELECT -10;');
		expect(result.problems).toEqual([
			expect.objectContaining({kind: 'missing-rollback', version: 11, blocking: false}),
		]);
	});

	it.each([
		['a stray file', {'notes.sql': 'SELECT 1;'}, 'bad-name', 'notes.sql'],
		['a README', {'README.md': '# hi'}, 'bad-name', 'README.md'],
		['capitals', {'0001_AddUsers.sql': 'SELECT 1;'}, 'bad-name', '0001_AddUsers.sql'],
		['spaces', {'0001_add users.sql': 'SELECT 1;'}, 'bad-name', '0001_add users.sql'],
		['an empty file', {'0001_empty.sql': '  \n'}, 'empty-file', '0001_empty.sql'],
		['a comments-only file', {'0001_todo.sql': '-- TODO\n/* later */\n'}, 'empty-file', '0001_todo.sql'],
	])('refuses %s, naming the file', async (_label, migrations, kind, fileName) => {
		const result = await source({migrations});
		expect(result.problems).toContainEqual(expect.objectContaining({kind, blocking: true, file: expect.stringContaining(fileName)}));
		await expect(readValidMigrationSource({migrationsDir: project!.migrationsDir, rollbacksDir: project!.rollbacksDir})).rejects.toMatchObject({
			code: 'E_MIGRATIONS_INVALID',
			exitCode: 2,
			message: expect.stringContaining(fileName),
		});
	});

	it('refuses two files with one version, naming both', async () => {
		const result = await source({migrations: {'0001_a.sql': 'SELECT 1;', '1_b.sql': 'SELECT 2;'}});
		const duplicates = result.problems.filter(problem => problem.kind === 'duplicate-version');
		expect(duplicates).toHaveLength(2);
		expect(duplicates[0]?.message).toContain('0001_a.sql');
		expect(duplicates[0]?.message).toContain('1_b.sql');
	});

	it('refuses a rollback without a migration and a rollback with another name', async () => {
		const result = await source({
			migrations: {'0001_a.sql': 'SELECT 1;'},
			rollbacks: {'0002_ghost.sql': 'SELECT 2;', '0001_other.sql': 'SELECT 1;'},
		});
		expect(result.problems).toContainEqual(expect.objectContaining({kind: 'orphan-rollback', version: 2, file: expect.stringContaining('0002_ghost.sql')}));
		expect(result.problems).toContainEqual(expect.objectContaining({kind: 'rollback-name-mismatch', version: 1}));
	});

	it('refuses a missing folder, naming it', async () => {
		project = await createMigrationProject();
		await expect(readMigrationSource({migrationsDir: `${project.dir}/nope`, rollbacksDir: project.rollbacksDir})).rejects.toMatchObject({
			code: 'E_MIGRATIONS_INVALID',
			message: expect.stringContaining(`${project.dir}/nope`),
		});
	});

	it('ignores dotfiles such as .gitkeep', async () => {
		const result = await source({migrations: {'.gitkeep': '', '0001_a.sql': 'SELECT 1;'}, rollbacks: {'.gitkeep': '', '0001_a.sql': 'SELECT 1;'}});
		expect(result.problems).toEqual([]);
		expect(result.migrations).toHaveLength(1);
	});
});

describe('directives', () => {
	it('reads the leading comment block', () => {
		const {directives, problems} = parseDirectives('-- Adds an index\n-- msdb:no-transaction\n--msdb:lock-timeout 30s\n-- msdb:statement-timeout 0\n\nCREATE INDEX CONCURRENTLY i ON t (a);');
		expect(problems).toEqual([]);
		expect(directives).toEqual({noTransaction: true, lockTimeout: '30s', statementTimeout: '0'});
	});

	it('refuses unknown directives, bad durations and directives after the SQL starts', () => {
		const {problems} = parseDirectives('-- msdb:no-transction\n-- msdb:lock-timeout 30\nSELECT 1;\n-- msdb:no-transaction\n');
		expect(problems).toEqual([
			expect.objectContaining({line: 1, message: expect.stringContaining('unknown directive msdb:no-transction')}),
			expect.objectContaining({line: 2, message: expect.stringContaining('msdb:lock-timeout needs')}),
			expect.objectContaining({line: 4, message: expect.stringContaining('before any SQL')}),
		]);
	});
});
