import {throwIfCancelled} from '../../cancellation.js';
import type {DatabaseConfig} from '../../config/database-config.js';
import {connectDatabase} from '../../database/connect.js';
import {asMsdbError, MsdbError} from '../../errors.js';
import type {BackupEventListener} from '../backup-events.js';
import type {PostgresManifestPart} from '../backup-manifest-types.js';
import type {BackupTarget} from '../backup-target.js';
import {nameTimestamp} from './database-names.js';
import {freeDatabaseName} from './database-on-server.js';
import {readDatabaseTemplate} from './database-properties.js';
import {assertPgRestoreCanRead} from './pg-tool-compatibility.js';
import {selectPgTool} from './pg-tools.js';
import {dropDatabase, restoreIntoNewDatabase} from './restore-into-database.js';
import {compareRowCounts} from './row-count-comparison.js';
import type {PostgresVerificationProblem} from './verify-postgres-artifact.js';

export type PostgresDrillOptions = {
	/** Any database on the server to drill on (the scratch database is created beside it). */
	database: DatabaseConfig;
	target: BackupTarget;
	part: PostgresManifestPart;
	onEvent?: BackupEventListener | undefined;
	signal?: AbortSignal | undefined;
	pgBinDirectory?: string | undefined;
	now?: Date | undefined;
};

export type PostgresDrillResult = {
	/** The restore worked and every count matched the manifest (when it has counts). */
	ok: boolean;
	/** Exact rows per `schema.table` found in the restored copy. */
	counts: Record<string, number>;
	problems: PostgresVerificationProblem[];
	/** Whether the manifest had counts to compare with (a backup taken without --row-counts has none). */
	comparedCounts: boolean;
	/** The scratch database (dropped again before this returns). */
	scratchDatabase: string;
	elapsedMs: number;
};

/**
 * A restore drill: restores the artifact into a scratch database `<db>_drill_<timestamp>`,
 * counts every table's rows, compares them with the manifest's counts (taken in the dump's own
 * snapshot, so they must match exactly), and drops the scratch database whatever happened.
 *
 * A dump that does not restore, or counts that differ, are findings (`ok: false`, problems
 * naming the artifact and the table); a server that cannot be reached, a missing pg_restore or a
 * cancelled run throw.
 */
export async function drillPostgres(options: PostgresDrillOptions): Promise<PostgresDrillResult> {
	const started = performance.now();
	const {part, signal} = options;
	const {key} = part.artifact;
	const onEvent = options.onEvent ?? (() => {});
	throwIfCancelled(signal, 'The drill did not start.');
	const admin = await connectDatabase(options.database, {applicationName: 'msdb:drill'});
	try {
		const {rows} = await admin.query<{current: string; version_num: string}>(
			"SELECT current_database() AS current, current_setting('server_version_num') AS version_num",
		);
		const serverVersionNum = Number(rows[0]?.version_num ?? 0);
		const template = await readDatabaseTemplate(admin, rows[0]?.current ?? '');
		const scratch = await freeDatabaseName(admin, part.database, `_drill_${nameTimestamp(options.now ?? new Date())}`);
		const pgRestore = await selectPgTool('pg_restore', {binDirectory: options.pgBinDirectory});
		assertPgRestoreCanRead(pgRestore, {pgDumpVersion: part.pgDumpVersion, key});
		onEvent({type: 'backup:step', message: `drill: restoring ${key} into scratch database "${scratch}"`});
		const problems: PostgresVerificationProblem[] = [];
		let counts: Record<string, number> = {};
		try {
			const restored = await restoreIntoNewDatabase({
				config: options.database,
				admin,
				serverVersionNum,
				name: scratch,
				template,
				target: options.target,
				part,
				pgRestorePath: pgRestore.path,
				analyze: false,
				countRows: true,
				onEvent,
				signal,
			});
			counts = restored.rowCounts ?? {};
		} catch (error) {
			// restoreIntoNewDatabase has dropped the scratch database already.
			if (signal?.aborted || !(error instanceof MsdbError) || error.code !== 'E_RESTORE_FAILED') {
				throw error instanceof MsdbError ? error : asMsdbError(error);
			}

			problems.push({component: 'postgres', artifact: key, message: `${key}: the drill restore failed: ${error.message}`});
			return {ok: false, counts, problems, comparedCounts: false, scratchDatabase: scratch, elapsedMs: performance.now() - started};
		}

		const dropFailure = await dropDatabase(admin, scratch, serverVersionNum);
		if (dropFailure) {
			onEvent({type: 'backup:step', message: `drill: could not drop the scratch database "${scratch}" (${dropFailure.message}); drop it by hand`});
		}

		const comparedCounts = part.rowCounts !== null;
		if (part.rowCounts !== null) {
			for (const difference of compareRowCounts(part.rowCounts, counts)) {
				problems.push({component: 'postgres', artifact: key, message: `${key}: ${difference.message}`});
			}
		}

		onEvent({
			type: 'backup:step',
			message: comparedCounts
				? `drill: ${Object.keys(counts).length} table(s) restored, ${problems.length === 0 ? 'every count matches the manifest' : `${problems.length} count(s) differ`}`
				: `drill: ${Object.keys(counts).length} table(s) restored; the manifest has no row counts to compare with`,
		});
		return {ok: problems.length === 0, counts, problems, comparedCounts, scratchDatabase: scratch, elapsedMs: performance.now() - started};
	} finally {
		await admin.end().catch(() => {});
	}
}
