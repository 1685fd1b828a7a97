import {readFileSync} from 'node:fs';
import {readdir, stat} from 'node:fs/promises';
import path from 'node:path';
import {ActionableError} from '../errors.js';
import {checksumSql, normaliseSql} from './checksum.js';
import {parseDirectives, type MigrationDirectives} from './migration-directives.js';
import {isFileNameProblem, parseMigrationFileName, parseRollbackFileName} from './migration-file-name.js';

/** A rollback file on disk, paired with its migration by version. */
export type RollbackFile = {
	fileName: string;
	path: string;
	/** Normalised text (BOM stripped, LF line endings): what runs and what is hashed. */
	sql: string;
	checksum: string;
	directives: MigrationDirectives;
};

/** A migration file on disk. */
export type MigrationFile = {
	version: number;
	versionText: string;
	name: string;
	fileName: string;
	path: string;
	sql: string;
	checksum: string;
	directives: MigrationDirectives;
	rollback: RollbackFile | undefined;
};

export type SourceProblemKind =
	| 'bad-name'
	| 'not-a-file'
	| 'duplicate-version'
	| 'orphan-rollback'
	| 'rollback-name-mismatch'
	| 'empty-file'
	| 'bad-directive'
	| 'missing-rollback';

/** Something wrong with the files themselves, found without a database. */
export type SourceProblem = {
	kind: SourceProblemKind;
	/** The file (or folder) the problem is in, as a path the user can open. */
	file: string;
	version?: number;
	line?: number;
	message: string;
	/**
	 * Blocking problems make every command but `validate` refuse (exit 2) before touching the
	 * database. A missing rollback is not blocking: you can apply, you just cannot roll back.
	 */
	blocking: boolean;
};

export type MigrationSource = {
	migrationsDir: string;
	rollbacksDir: string;
	/** Sorted by version, ascending. Files with blocking problems are left out. */
	migrations: MigrationFile[];
	problems: SourceProblem[];
};

export type SourceDirectories = {migrationsDir: string; rollbacksDir: string};

/**
 * Reads both folders and pairs migrations with rollbacks. Never throws for a bad file: every
 * problem is collected, so `validate` can list them all. Throws only when a folder is missing
 * or unreadable, since nothing can be said about its files then.
 */
export async function readMigrationSource(directories: SourceDirectories): Promise<MigrationSource> {
	const {migrationsDir, rollbacksDir} = directories;
	const [migrationEntries, rollbackEntries] = await Promise.all([
		listFolder(migrationsDir, 'migrations', '--migrations-dir'),
		listFolder(rollbacksDir, 'rollbacks', '--rollbacks-dir'),
	]);
	const problems: SourceProblem[] = [];
	const migrationTexts = readSqlFiles(migrationsDir, migrationEntries);
	const rollbackTexts = readSqlFiles(rollbacksDir, rollbackEntries);

	const migrationsByVersion = new Map<number, MigrationFile[]>();
	for (const entry of migrationEntries) {
		const filePath = path.join(migrationsDir, entry.name);
		if (!entry.isFile) {
			problems.push(blocking('not-a-file', filePath, 'only migration files belong in the migrations folder, not folders or links to them'));
			continue;
		}

		const parsed = parseMigrationFileName(entry.name);
		if (isFileNameProblem(parsed)) {
			problems.push(blocking('bad-name', filePath, `bad migration file name: ${parsed.reason}`));
			continue;
		}

		const text = migrationTexts.get(entry.name) ?? '';
		const sql = normaliseSql(text);
		const {directives, problems: directiveProblems} = parseDirectives(sql);
		for (const problem of directiveProblems) {
			problems.push({...blocking('bad-directive', filePath, problem.message), version: parsed.version, line: problem.line});
		}

		if (isEffectivelyEmpty(sql)) {
			problems.push({...blocking('empty-file', filePath, 'the migration file has no SQL in it'), version: parsed.version});
		}

		const file: MigrationFile = {
			...parsed,
			fileName: entry.name,
			path: filePath,
			sql,
			checksum: checksumSql(text),
			directives,
			rollback: undefined,
		};
		const sameVersion = migrationsByVersion.get(parsed.version) ?? [];
		sameVersion.push(file);
		migrationsByVersion.set(parsed.version, sameVersion);
	}

	for (const [version, files] of migrationsByVersion) {
		if (files.length > 1) {
			const names = files.map(file => file.path).join(', ');
			for (const file of files) {
				problems.push({
					...blocking('duplicate-version', file.path, `version ${version} is used by more than one migration: ${names}`),
					version,
				});
			}
		}
	}

	const rollbacksByVersion = new Map<number, Array<RollbackFile & {name: string}>>();
	for (const entry of rollbackEntries) {
		const filePath = path.join(rollbacksDir, entry.name);
		if (!entry.isFile) {
			problems.push(blocking('not-a-file', filePath, 'only rollback files belong in the rollbacks folder, not folders or links to them'));
			continue;
		}

		const parsed = parseRollbackFileName(entry.name);
		if (isFileNameProblem(parsed)) {
			problems.push(blocking('bad-name', filePath, `bad rollback file name: ${parsed.reason}`));
			continue;
		}

		const text = rollbackTexts.get(entry.name) ?? '';
		const sql = normaliseSql(text);
		const {directives, problems: directiveProblems} = parseDirectives(sql);
		for (const problem of directiveProblems) {
			problems.push({...blocking('bad-directive', filePath, problem.message), version: parsed.version, line: problem.line});
		}

		if (isEffectivelyEmpty(sql)) {
			problems.push({...blocking('empty-file', filePath, 'the rollback file has no SQL in it'), version: parsed.version});
		}

		const sameVersion = rollbacksByVersion.get(parsed.version) ?? [];
		sameVersion.push({name: parsed.name, fileName: entry.name, path: filePath, sql, checksum: checksumSql(text), directives});
		rollbacksByVersion.set(parsed.version, sameVersion);
	}

	for (const [version, rollbacks] of rollbacksByVersion) {
		if (rollbacks.length > 1) {
			const names = rollbacks.map(file => file.path).join(', ');
			for (const rollback of rollbacks) {
				problems.push({
					...blocking('duplicate-version', rollback.path, `version ${version} has more than one rollback: ${names}`),
					version,
				});
			}

			continue;
		}

		const [rollback] = rollbacks;
		const migrations = migrationsByVersion.get(version);
		if (!rollback) {
			continue;
		}

		if (!migrations) {
			problems.push({
				...blocking(
					'orphan-rollback',
					rollback.path,
					`rollback for version ${version} has no migration ${path.join(migrationsDir, `${rollback.fileName.replace(/_rollback\.sql$/, '.sql')}`)}`,
				),
				version,
			});
			continue;
		}

		for (const migration of migrations) {
			if (migration.name === rollback.name) {
				const {name: _name, ...rollbackFile} = rollback;
				migration.rollback = rollbackFile;
			} else {
				problems.push({
					...blocking(
						'rollback-name-mismatch',
						rollback.path,
						`rollback is named "${rollback.name}" but migration ${version} is named "${migration.name}" (${migration.path})`,
					),
					version,
				});
			}
		}
	}

	const migrations: MigrationFile[] = [];
	const blockedPaths = new Set(problems.filter(problem => problem.blocking).map(problem => problem.file));
	for (const files of migrationsByVersion.values()) {
		for (const file of files) {
			if (!file.rollback && !problems.some(problem => problem.kind === 'rollback-name-mismatch' && problem.version === file.version)) {
				problems.push({
					kind: 'missing-rollback',
					file: file.path,
					version: file.version,
					message: `migration ${file.version} has no rollback; expected ${path.join(rollbacksDir, file.fileName)}`,
					blocking: false,
				});
			}

			if (!blockedPaths.has(file.path)) {
				migrations.push(file);
			}
		}
	}

	migrations.sort((a, b) => a.version - b.version);
	problems.sort(compareProblems);
	return {migrationsDir, rollbacksDir, migrations, problems};
}

/**
 * Reads the source and refuses (exit 2, naming every bad file) when a problem blocks running
 * anything. Every command that touches the database goes through this first, so bad input
 * leaves the database untouched.
 */
export async function readValidMigrationSource(directories: SourceDirectories): Promise<MigrationSource> {
	const source = await readMigrationSource(directories);
	const blockingProblems = source.problems.filter(problem => problem.blocking);
	if (blockingProblems.length > 0) {
		throw new ActionableError(
			'E_MIGRATIONS_INVALID',
			[
				`${blockingProblems.length === 1 ? 'A migration file is' : `${blockingProblems.length} migration files are`} not valid; nothing was run:`,
				...blockingProblems.map(problem => `  ${formatProblemLocation(problem)}: ${problem.message}`),
			].join('\n'),
			{
				nextStep:
					'Fix or move the files named above (migrations are <version>_<name>.sql with a lower-case [a-z0-9_] name), then run `msdb migrate validate` to check.',
				details: {problems: blockingProblems.map(({blocking: _blocking, ...problem}) => problem)},
			},
		);
	}

	return source;
}

/** `file:line` when the problem has a line, else the file. */
export function formatProblemLocation(problem: {file: string; line?: number}): string {
	return problem.line === undefined ? problem.file : `${problem.file}:${problem.line}`;
}

type FolderEntry = {name: string; isFile: boolean};

async function listFolder(folder: string, label: string, option: string): Promise<FolderEntry[]> {
	let entries;
	try {
		entries = await readdir(folder, {withFileTypes: true});
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		if (code === 'ENOENT') {
			throw new ActionableError('E_MIGRATIONS_INVALID', `The ${label} folder ${folder} does not exist.`, {
				nextStep: `Create it (\`msdb migrate create <name>\` creates both folders), or point ${option} at your ${label} folder.`,
				details: {folder},
			});
		}

		if (code === 'ENOTDIR') {
			throw new ActionableError('E_MIGRATIONS_INVALID', `The ${label} path ${folder} is a file, not a folder.`, {
				nextStep: `Point ${option} at your ${label} folder.`,
				details: {folder},
			});
		}

		throw new ActionableError('E_IO', `Cannot read the ${label} folder ${folder}: ${(error as Error).message}`, {
			nextStep: 'Check the folder exists and is readable by this user.',
			details: {folder},
			cause: error,
		});
	}

	const result: FolderEntry[] = [];
	for (const entry of entries) {
		// Dotfiles (.gitkeep, .DS_Store) are repository and OS metadata, not migrations.
		if (entry.name.startsWith('.')) {
			continue;
		}

		let isFile = entry.isFile();
		if (entry.isSymbolicLink()) {
			isFile = await stat(path.join(folder, entry.name)).then(
				stats => stats.isFile(),
				() => false,
			);
		}

		result.push({name: entry.name, isFile});
	}

	return result.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The text of every .sql file of a folder, by file name. Read synchronously on purpose: these
 * are small files, and fs/promises costs four thread-pool round trips per file (open, stat,
 * read, close), which dominated `apply` start-up once a project has hundreds of migrations.
 */
function readSqlFiles(folder: string, entries: FolderEntry[]): Map<string, string> {
	const texts = new Map<string, string>();
	for (const entry of entries) {
		if (entry.isFile && entry.name.endsWith('.sql')) {
			texts.set(entry.name, readSqlFile(path.join(folder, entry.name)));
		}
	}

	return texts;
}

function readSqlFile(filePath: string): string {
	try {
		return readFileSync(filePath, 'utf8');
	} catch (error) {
		throw new ActionableError('E_IO', `Cannot read ${filePath}: ${(error as Error).message}`, {
			nextStep: 'Check the file is readable by this user.',
			details: {file: filePath},
			cause: error,
		});
	}
}

/** Blank, or nothing but comments: running it would do nothing, which is never what was meant. */
function isEffectivelyEmpty(sql: string): boolean {
	const withoutComments = sql.replace(/\/\*[\s\S]*?\*\//g, '').replace(/--[^\n]*/g, '');
	return withoutComments.trim() === '' || /^[\s;]*$/.test(withoutComments);
}

function blocking(kind: SourceProblemKind, file: string, message: string): SourceProblem {
	return {kind, file, message, blocking: true};
}

function compareProblems(a: SourceProblem, b: SourceProblem): number {
	return a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || a.kind.localeCompare(b.kind);
}
