import {mkdir, readdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {ActionableError} from '../errors.js';
import {isFileNameProblem, migrationFileName, parseMigrationFileName, type ParsedFileName} from './migration-file-name.js';

export type CreateResult = {version: number; name: string; migrationFile: string; rollbackFile: string};

const NAME = /^[a-z0-9_]+$/;
const DEFAULT_WIDTH = 4;

/**
 * Writes a new migration and its rollback with the next version, keeping the width of the
 * existing versions (0007 → 0008). Creates the folders when they do not exist yet.
 */
export async function createMigration(directories: {migrationsDir: string; rollbacksDir: string}, name: string): Promise<CreateResult> {
	if (!NAME.test(name) || name.endsWith('_rollback')) {
		throw new ActionableError('E_BAD_ARGUMENT', `"${name}" is not a valid migration name: use lower-case letters, digits and underscores.`, {
			nextStep: `Try \`msdb migrate create ${suggestName(name)}\`.`,
			details: {name},
		});
	}

	await mkdir(directories.migrationsDir, {recursive: true});
	await mkdir(directories.rollbacksDir, {recursive: true});
	// Every well-named file counts, even one still being written (an empty template is a
	// validation problem, but its version is taken).
	const last = (await readdir(directories.migrationsDir))
		.map(fileName => parseMigrationFileName(fileName))
		.filter((parsed): parsed is ParsedFileName => !isFileNameProblem(parsed))
		.sort((a, b) => a.version - b.version)
		.at(-1);
	const version = (last?.version ?? 0) + 1;
	const width = last ? last.versionText.length : DEFAULT_WIDTH;
	const versionText = String(version).padStart(width, '0');
	const fileName = migrationFileName(versionText, name);
	const migrationFile = path.join(directories.migrationsDir, fileName);
	const rollbackFile = path.join(directories.rollbacksDir, fileName);

	// 'wx' fails if the file exists: never overwrite someone's work.
	try {
		await writeFile(migrationFile, migrationTemplate(name), {flag: 'wx'});
		await writeFile(rollbackFile, rollbackTemplate(fileName), {flag: 'wx'});
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
			throw new ActionableError('E_FILE_EXISTS', `${(error as NodeJS.ErrnoException).path ?? fileName} already exists; nothing was overwritten.`, {
				nextStep: 'Move the existing file out of the way, or pick another name.',
			});
		}

		throw error;
	}

	return {version, name, migrationFile, rollbackFile};
}

function migrationTemplate(name: string): string {
	return `-- Migration: ${name}
-- Runs in one transaction with its ledger row: all of it applies, or none of it.
-- For CREATE INDEX CONCURRENTLY put "-- msdb:no-transaction" as the first line (statements then
-- run one by one). Per-file limits: "-- msdb:lock-timeout 30s", "-- msdb:statement-timeout 10min".
-- An empty file (comments only) is refused, so write the SQL below.

`;
}

function rollbackTemplate(fileName: string): string {
	return `-- Rollback of migrations/${fileName}: undo exactly what it does, in reverse order.
-- Stored in the ledger when the migration is applied; \`msdb migrate rollback\` runs that copy.

`;
}

function suggestName(name: string): string {
	const suggestion = name
		.toLowerCase()
		.replace(/[^a-z0-9]+/g, '_')
		.replace(/^_+|_+$/g, '')
		.replace(/_rollback$/, '');
	return suggestion === '' ? 'add_something' : suggestion;
}
