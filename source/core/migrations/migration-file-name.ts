/**
 * File names of migrations and rollbacks (DESIGN.md, "Files and formats"):
 * `<version>_<name>.sql`, where `<version>` is digits (leading zeros allowed, compared as
 * integers) and `<name>` is `[a-z0-9_]+`. A rollback has the same file name as its migration,
 * or the same name with `_rollback` before `.sql`.
 */

export type ParsedFileName = {
	version: number;
	/** The digits as written, so `create` can keep the existing width. */
	versionText: string;
	name: string;
};

const FILE_NAME = /^(\d+)_([a-z0-9_]+)\.sql$/;
const ROLLBACK_SUFFIX = '_rollback';

export type FileNameProblem = {reason: string};

/** Parses a migration file name, or says what is wrong with it. */
export function parseMigrationFileName(fileName: string): ParsedFileName | FileNameProblem {
	const match = FILE_NAME.exec(fileName);
	if (!match) {
		return {reason: describeBadName(fileName)};
	}

	const [, versionText = '', name = ''] = match;
	const version = Number(versionText);
	if (!Number.isSafeInteger(version)) {
		return {reason: `its version ${versionText} is larger than ${Number.MAX_SAFE_INTEGER}`};
	}

	if (name.endsWith(ROLLBACK_SUFFIX)) {
		return {reason: 'names ending in "_rollback" are reserved for files in the rollbacks folder'};
	}

	return {version, versionText, name};
}

/** Parses a rollback file name; `_rollback` before `.sql` is accepted and dropped from the name. */
export function parseRollbackFileName(fileName: string): ParsedFileName | FileNameProblem {
	const match = FILE_NAME.exec(fileName);
	if (!match) {
		return {reason: describeBadName(fileName)};
	}

	const [, versionText = '', rawName = ''] = match;
	const version = Number(versionText);
	if (!Number.isSafeInteger(version)) {
		return {reason: `its version ${versionText} is larger than ${Number.MAX_SAFE_INTEGER}`};
	}

	const name = rawName.endsWith(ROLLBACK_SUFFIX) ? rawName.slice(0, -ROLLBACK_SUFFIX.length) : rawName;
	if (name === '') {
		return {reason: 'it has no name between the version and "_rollback"'};
	}

	return {version, versionText, name};
}

export function isFileNameProblem(value: ParsedFileName | FileNameProblem): value is FileNameProblem {
	return 'reason' in value;
}

function describeBadName(fileName: string): string {
	if (!fileName.endsWith('.sql')) {
		return 'only <version>_<name>.sql files belong in this folder';
	}

	if (!/^\d+_/.test(fileName)) {
		return 'it does not start with a numeric version and an underscore (<version>_<name>.sql)';
	}

	return 'the name after the version may only contain lower-case letters, digits and underscores';
}

/** The canonical file name for a version and name, e.g. `0007_add_users.sql`. */
export function migrationFileName(versionText: string, name: string): string {
	return `${versionText}_${name}.sql`;
}
