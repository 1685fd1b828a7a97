import {createTwoFilesPatch} from 'diff';
import {compareWithLedger} from './ledger-comparison.js';
import {withMigrationSession} from './migration-session.js';
import type {MigrationSettings} from './migration-settings.js';
import {readMigrationSource, type SourceProblemKind} from './migration-source.js';
import {splitFileStatements} from './sql-statements.js';

export type ValidationProblemKind =
	| SourceProblemKind
	| 'unparseable'
	| 'checksum-mismatch'
	| 'applied-file-missing'
	| 'out-of-order'
	| 'rollback-changed'
	| 'applied-without-rollback';

export type ValidationProblem = {
	version?: number;
	kind: ValidationProblemKind;
	message: string;
	file?: string;
	line?: number;
	/** Unified diff, applied → on disk, for checksum mismatches. */
	diff?: string;
};

export type ValidationResult = {ok: boolean; problems: ValidationProblem[]};

/**
 * Everything that would make a run refuse or surprise: bad files (names, duplicates, orphans,
 * empty files, directives, SQL the parser rejects), applied files that changed (with a diff) or
 * disappeared, out-of-order pending files, and missing rollbacks.
 */
export async function validateMigrations(settings: MigrationSettings): Promise<ValidationResult> {
	const source = await readMigrationSource(settings);
	const problems: ValidationProblem[] = source.problems.map(problem => ({
		kind: problem.kind,
		message: problem.message,
		file: problem.file,
		...(problem.version === undefined ? {} : {version: problem.version}),
		...(problem.line === undefined ? {} : {line: problem.line}),
	}));

	for (const file of source.migrations) {
		for (const [label, sql, noTransaction, filePath] of [
			['migration', file.sql, file.directives.noTransaction, file.path],
			['rollback', file.rollback?.sql ?? '', file.rollback?.directives.noTransaction ?? false, file.rollback?.path ?? ''],
		] as const) {
			if (!noTransaction) {
				continue;
			}

			try {
				await splitFileStatements(sql, filePath);
			} catch (error) {
				const details = (error as {details?: {line?: number}}).details;
				problems.push({
					version: file.version,
					kind: 'unparseable',
					message: `the no-transaction ${label} must be split into statements, but ${(error as Error).message}`,
					file: filePath,
					...(details?.line === undefined ? {} : {line: details.line}),
				});
			}
		}
	}

	await withMigrationSession(settings, {lock: false}, async ({ledger}) => {
		const comparison = compareWithLedger(source.migrations, await ledger.readApplied());
		for (const {file, applied} of comparison.checksumMismatches) {
			problems.push({
				version: file.version,
				kind: 'checksum-mismatch',
				file: file.path,
				message: `migration ${file.version} was changed after it was applied (applied checksum ${applied.checksum.slice(0, 12)}…, file now ${file.checksum.slice(0, 12)}…); restore it, or record the change with \`msdb migrate accept ${file.version}\``,
				diff: createTwoFilesPatch(`${file.path} (applied ${applied.appliedAt.toISOString()})`, `${file.path} (on disk)`, applied.upSql, file.sql, undefined, undefined, {context: 3}),
			});
		}

		for (const row of comparison.missingFiles) {
			const renamed = source.migrations.find(file => file.version === row.version);
			problems.push({
				version: row.version,
				kind: 'applied-file-missing',
				message: renamed
					? `migration ${row.version} was applied as "${row.name}" but the file for that version is now ${renamed.path}`
					: `migration ${row.version} (${row.name}) is applied but its file is missing from ${source.migrationsDir}`,
			});
		}

		for (const file of comparison.outOfOrder) {
			problems.push({
				version: file.version,
				kind: 'out-of-order',
				file: file.path,
				message: `pending migration ${file.version} is older than the newest applied version ${comparison.current}; apply refuses it without --allow-out-of-order`,
			});
		}

		const filesByVersion = new Map(source.migrations.map(file => [file.version, file]));
		for (const row of comparison.applied) {
			const file = filesByVersion.get(row.version);
			if (row.rollbackSql === null) {
				problems.push({
					version: row.version,
					kind: 'applied-without-rollback',
					message: `migration ${row.version} (${row.name}) was applied without a rollback, so it cannot be rolled back${file?.rollback ? `; \`msdb migrate accept ${row.version}\` records ${file.rollback.path}` : ''}`,
				});
			} else if (file?.rollback && file.name === row.name && file.rollback.sql !== row.rollbackSql) {
				problems.push({
					version: row.version,
					kind: 'rollback-changed',
					file: file.rollback.path,
					message: `the rollback of ${row.version} changed after it was applied; rollback runs the stored version until you record the new one with \`msdb migrate accept ${row.version}\``,
					diff: createTwoFilesPatch(`${file.rollback.path} (stored)`, `${file.rollback.path} (on disk)`, row.rollbackSql, file.rollback.sql, undefined, undefined, {context: 3}),
				});
			}
		}
	});

	problems.sort((a, b) => (a.version ?? 0) - (b.version ?? 0) || a.kind.localeCompare(b.kind) || (a.file ?? '').localeCompare(b.file ?? ''));
	return {ok: problems.length === 0, problems};
}
