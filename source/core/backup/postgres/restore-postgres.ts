import type pg from 'pg';
import {cancelledError, throwIfCancelled} from '../../cancellation.js';
import type {DatabaseConfig} from '../../config/database-config.js';
import {connectDatabase} from '../../database/connect.js';
import {ActionableError, asMsdbError, MsdbError} from '../../errors.js';
import type {BackupEventListener} from '../backup-events.js';
import type {PostgresManifestPart} from '../backup-manifest-types.js';
import type {BackupTarget} from '../backup-target.js';
import {assertDatabaseName, derivedDatabaseName, nameTimestamp} from './database-names.js';
import {connectToDatabase, freeDatabaseName, maintenanceDatabaseFor} from './database-on-server.js';
import {copyDatabaseProperties, readDatabaseTemplate} from './database-properties.js';
import {assertPgRestoreCanRead, serverMajorVersion} from './pg-tool-compatibility.js';
import {selectPgTool} from './pg-tools.js';
import {dropDatabase, restoreIntoNewDatabase} from './restore-into-database.js';
import {swapDatabases, switchBackSql} from './swap-databases.js';

export type PostgresRestoreOptions = {
	/**
	 * The server to restore onto, through a database on it. With `into: 'replace'` this database is
	 * the one replaced (the live one); with `new` it only says where the server is, and its encoding
	 * and locale are the new database's.
	 */
	database: DatabaseConfig;
	target: BackupTarget;
	part: PostgresManifestPart;
	/** `new` (default): a new database beside the others. `replace`: swap it in under the live name. */
	into?: 'new' | 'replace' | undefined;
	/** `into: 'new'` only: the new database's name (default `<backup's database>_restore_<timestamp>`). */
	newDatabaseName?: string | undefined;
	/** `into: 'replace'` only: must equal the live database's name exactly. */
	confirm?: string | undefined;
	/** ANALYZE the restored database before handing it over (default true). */
	analyze?: boolean | undefined;
	/** Count every table's rows afterwards (default: when the manifest has counts to compare with). */
	countRows?: boolean | undefined;
	onEvent?: BackupEventListener | undefined;
	/** Kills pg_restore and drops the half-restored database; the live one is not touched. */
	signal?: AbortSignal | undefined;
	/** Where pg_restore lives, when not on PATH or under /usr/lib/postgresql/<major>/bin. */
	pgBinDirectory?: string | undefined;
	/** The moment in the generated names (tests pin it). */
	now?: Date | undefined;
};

export type PostgresRestoreResult = {
	into: 'new' | 'replace';
	/** The database holding the restored data now (after `replace`: the live name). */
	database: string;
	/** `replace`: where the previous live database is now (`<db>_pre_restore_<timestamp>`). */
	asideDatabase?: string;
	/** `replace`: SQL that puts the previous database back (run it connected to another database). */
	switchBack?: string;
	/** Exact rows per `schema.table` in the restored database, when counted. */
	rowCounts?: Record<string, number>;
	/** Database-level properties (owner, settings, privileges) that could not be carried over. */
	warnings: string[];
	bytes: number;
	elapsedMs: number;
};

const APPLICATION_NAME = 'msdb:restore';

/**
 * Restores a PostgreSQL backup artifact.
 *
 * - `into: 'new'` creates a new database and restores into it; nothing else is touched.
 * - `into: 'replace'` needs `confirm` to be the live database's name (else E_CONFIRMATION_REQUIRED,
 *   exit 2, before anything changes). It restores into a new database first; only when that has
 *   fully succeeded does it carry the live database's owner, settings and privileges over, end
 *   the live database's sessions and swap the names in one transaction: live →
 *   `<db>_pre_restore_<timestamp>`, restored → live. `switchBack` says how to undo that.
 *
 * A failed or cancelled restore drops the database it created; the live one stays as it was.
 */
export async function restorePostgres(options: PostgresRestoreOptions): Promise<PostgresRestoreResult> {
	const started = performance.now();
	const {part, signal} = options;
	const into = options.into ?? 'new';
	const onEvent = options.onEvent ?? (() => {});
	throwIfCancelled(signal, 'Nothing was restored.');
	if (options.newDatabaseName !== undefined) {
		assertDatabaseName(options.newDatabaseName, 'The new database name');
	}

	const timestamp = nameTimestamp(options.now ?? new Date());
	let admin: pg.Client | undefined = await connectDatabase(options.database, {applicationName: APPLICATION_NAME});
	try {
		const {rows} = await admin.query<{live: string; version_num: string}>(
			"SELECT current_database() AS live, current_setting('server_version_num') AS version_num",
		);
		const live = rows[0]?.live ?? '';
		const serverVersionNum = Number(rows[0]?.version_num ?? 0);
		if (into === 'replace') {
			assertConfirmed(options.confirm, live);
		}

		const restored =
			into === 'replace'
				? derivedDatabaseName(live, `_restore_${timestamp}`)
				: (options.newDatabaseName ?? (await freeDatabaseName(admin, part.database, `_restore_${timestamp}`)));
		const aside = derivedDatabaseName(live, `_pre_restore_${timestamp}`);
		const template = await readDatabaseTemplate(admin, live);
		if (into === 'replace') {
			// Renaming must happen from a third database, and a session on the live one would be ended.
			await admin.end();
			admin = await connectToDatabase(options.database, maintenanceDatabaseFor([live]), APPLICATION_NAME);
			await assertMayReplace(admin, live);
		}

		await assertNamesFree(admin, into === 'replace' ? [restored, aside] : [restored]);
		const pgRestore = await selectPgTool('pg_restore', {binDirectory: options.pgBinDirectory});
		assertPgRestoreCanRead(pgRestore, {pgDumpVersion: part.pgDumpVersion, key: part.artifact.key});
		if (serverMajorVersion(part.serverVersionNum) > serverMajorVersion(serverVersionNum)) {
			// Not refused: it often works. But PostgreSQL does not promise it, so the operator hears it first.
			onEvent({
				type: 'backup:step',
				message: `warning: the backup comes from PostgreSQL ${part.serverVersion}, this server is older (${serverVersionNum}); objects using newer features will fail to restore`,
			});
		}

		onEvent({type: 'backup:step', message: `restoring ${part.artifact.key} (${part.database}, PostgreSQL ${part.serverVersion}) into new database "${restored}" with pg_restore ${pgRestore.version}`});

		const {rowCounts, bytes} = await restoreIntoNewDatabase({
			config: options.database,
			admin,
			serverVersionNum,
			name: restored,
			template,
			target: options.target,
			part,
			pgRestorePath: pgRestore.path,
			analyze: options.analyze ?? true,
			countRows: options.countRows ?? part.rowCounts !== null,
			onEvent,
			signal,
		});
		const result: PostgresRestoreResult = {into, database: restored, warnings: [], bytes, elapsedMs: 0, ...(rowCounts ? {rowCounts} : {})};
		if (into === 'replace') {
			try {
				throwIfCancelled(signal, '');
				result.warnings.push(...(await copyDatabaseProperties(admin, live, restored)));
				const swap = await swapDatabases(admin, {live, aside, restored}, onEvent);
				result.warnings.push(...swap.warnings);
			} catch (error) {
				const dropFailure = await dropDatabase(admin, restored, serverVersionNum);
				const dropped = dropFailure ? `The restored copy "${restored}" could not be dropped (${dropFailure.message}): drop it by hand.` : `The restored copy "${restored}" was dropped.`;
				if (signal?.aborted) {
					throw cancelledError(`"${live}" was not replaced. ${dropped}`);
				}

				throw new ActionableError('E_RESTORE_FAILED', `Could not put the restored database in the place of "${live}": ${(error as Error).message}\n"${live}" was not changed. ${dropped}`, {
					nextStep: `Check for sessions on "${live}" that cannot be ended (other users', replication), then run the restore again.`,
					details: {database: live},
					cause: error,
				});
			}

			result.database = live;
			result.asideDatabase = aside;
			result.switchBack = switchBackSql({live, aside, restored});
		}

		result.elapsedMs = performance.now() - started;
		return result;
	} catch (error) {
		if (signal?.aborted && !(error instanceof MsdbError && error.code === 'E_CANCELLED')) {
			throw cancelledError('Nothing was restored.');
		}

		throw error instanceof MsdbError ? error : asMsdbError(error);
	} finally {
		await admin?.end().catch(() => {});
	}
}

function assertConfirmed(confirm: string | undefined, live: string): void {
	if (confirm === undefined) {
		throw new ActionableError('E_CONFIRMATION_REQUIRED', `Restoring with --into replace swaps out the live database "${live}". Nothing was changed.`, {
			nextStep: `Restore beside it with --into new, or confirm with --into replace --confirm ${live}`,
			details: {database: live},
		});
	}

	if (confirm !== live) {
		throw new ActionableError('E_CONFIRMATION_REQUIRED', `--confirm "${confirm}" does not match the live database name "${live}". Nothing was changed.`, {
			nextStep: `Type the name of the database being replaced exactly: --confirm ${live}`,
			details: {database: live},
		});
	}
}

/** Renaming needs ownership of the live database and CREATEDB: checked before hours of restore. */
async function assertMayReplace(client: pg.Client, live: string): Promise<void> {
	const {rows} = await client.query<{owner: boolean; createdb: boolean}>(
		`SELECT pg_catalog.pg_has_role(d.datdba, 'USAGE') AS owner,
		        (SELECT r.rolsuper OR r.rolcreatedb FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) AS createdb
		 FROM pg_catalog.pg_database d WHERE d.datname = $1`,
		[live],
	);
	const row = rows[0];
	if (!row?.owner || !row.createdb) {
		throw new ActionableError('E_RESTORE_FAILED', `The restoring user may not replace "${live}": that needs ownership of the database and the CREATEDB privilege. Nothing was changed.`, {
			nextStep: `Run the restore as the owner of "${live}" (with CREATEDB) or as a superuser, or restore beside it with --into new.`,
			details: {database: live, owner: Boolean(row?.owner), createdb: Boolean(row?.createdb)},
		});
	}
}

async function assertNamesFree(client: pg.Client, names: string[]): Promise<void> {
	const {rows} = await client.query<{name: string}>('SELECT datname AS name FROM pg_catalog.pg_database WHERE datname = ANY ($1)', [names]);
	const taken = rows[0]?.name;
	if (taken !== undefined) {
		throw new ActionableError('E_DATABASE_EXISTS', `A database named "${taken}" already exists; the restore will not overwrite it. Nothing was changed.`, {
			nextStep: 'Choose another name for the new database, drop the old copy if it is no longer needed, or wait a second for a new timestamp.',
			details: {database: taken},
		});
	}
}
