import {pipeline, Transform, type TransformCallback} from 'node:stream';
import type pg from 'pg';
import {cancelledError, throwIfCancelled} from '../../cancellation.js';
import type {DatabaseConfig} from '../../config/database-config.js';
import {backendPid, cancelBackend} from '../../database/cancel-backend.js';
import {connectDatabase} from '../../database/connect.js';
import {ActionableError, asMsdbError, BugError, MsdbError} from '../../errors.js';
import type {BackupEventListener} from '../backup-events.js';
import type {PostgresManifestPart} from '../backup-manifest-types.js';
import type {BackupTarget, StoredObject} from '../backup-target.js';
import {ProgressMeter} from '../progress-meter.js';
import {configForDatabase} from './database-on-server.js';
import {libpqEnvironment} from './libpq-environment.js';
import {assertPgDumpCanDump, serverMajorVersion} from './pg-tool-compatibility.js';
import {findPgTools, pgToolCommand, selectPgTool, type PgTool} from './pg-tools.js';
import {runPgTool, type PgToolOutcome} from './run-pg-tool.js';
import {readServerIdentity} from './server-identity.js';
import {countRows, listUserTables} from './user-tables.js';

export type PostgresBackupOptions = {
	database: DatabaseConfig;
	target: BackupTarget;
	/** Where the dump goes in the target: `<backup-id>/postgres.dump`. */
	key: string;
	/** Also count every table's rows exactly, in the dump's own snapshot (one scan per table). */
	rowCounts?: boolean | undefined;
	onEvent?: BackupEventListener | undefined;
	/** Kills pg_dump and aborts the upload: nothing is stored. */
	signal?: AbortSignal | undefined;
	/** Where pg_dump lives, when not on PATH or under /usr/lib/postgresql/<major>/bin. */
	pgBinDirectory?: string | undefined;
	/** A search for pg_dump (findPgTools) the caller started earlier, before this module and pg loaded. */
	pgDumpSearch?: Promise<PgTool[]> | undefined;
};

const APPLICATION_NAME = 'msdb:backup';
const BATCH_BYTES = 256 * 1024;
/** How pg_dump shows in pg_stat_activity, so a DBA can tell it belongs to msdb. */
export const PG_DUMP_APPLICATION_NAME = 'msdb:pg_dump';

/**
 * Backs up one PostgreSQL database: `pg_dump -Fc` streamed straight into `target.put` (which
 * hashes it), memory flat whatever the size.
 *
 * Refuses before anything starts when the local pg_dump is older than the server. The dump runs
 * in a snapshot this function exports from its own REPEATABLE READ transaction
 * (`pg_export_snapshot()` + `pg_dump --snapshot`), and the optional row counts are taken in that
 * same snapshot while pg_dump runs, so the counts describe exactly the rows in the dump. The
 * transaction stays open until pg_dump has finished: the snapshot dies with it.
 *
 * The object appears only if pg_dump exited 0 and every count succeeded; otherwise (or when
 * `signal` fires) pg_dump is killed, the upload aborted, and the error quotes pg_dump's stderr.
 */
export async function backupPostgres(options: PostgresBackupOptions): Promise<PostgresManifestPart> {
	const {target, key, signal} = options;
	const onEvent = options.onEvent ?? (() => {});
	throwIfCancelled(signal, 'Nothing was backed up.');
	// Looking for pg_dump (a process per candidate) needs no server: it runs while we connect.
	const pgDumps = options.pgDumpSearch ?? findPgTools('pg_dump', {binDirectory: options.pgBinDirectory});
	pgDumps.catch(() => {});
	const client = await connectDatabase(options.database, {applicationName: APPLICATION_NAME});
	// A count(*) in progress when the signal fires is cancelled on the server, not waited for.
	const onAbort = () => {
		const pid = backendPid(client);
		if (pid !== undefined) {
			void cancelBackend(options.database, pid);
		}
	};

	signal?.addEventListener('abort', onAbort, {once: true});
	try {
		const server = await readServerIdentity(client);
		const pgDump = await selectPgTool('pg_dump', {binDirectory: options.pgBinDirectory, preferMajor: serverMajorVersion(server.versionNum), found: pgDumps});
		assertPgDumpCanDump(pgDump, server);
		onEvent({type: 'backup:step', message: `pg_dump ${pgDump.version} can back up PostgreSQL ${server.version} (database ${server.database})`});

		// The snapshot must outlive pg_dump, and counts can take long: neither timeout may end them.
		// One round trip (a simple-protocol query of several statements), since pg_dump waits for it.
		const results = (await client.query(
			`SET idle_in_transaction_session_timeout = 0; SET statement_timeout = 0;
			 BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
			 SELECT pg_export_snapshot() AS snapshot,
			        (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn`,
		)) as unknown as Array<pg.QueryResult<{snapshot: string; lsn: string}>>;
		const {snapshot, lsn} = results.at(-1)?.rows[0] ?? {snapshot: '', lsn: ''};
		onEvent({type: 'backup:step', message: `snapshot ${snapshot} exported at WAL LSN ${lsn}`});
		throwIfCancelled(signal, 'Nothing was backed up.');

		const {stored, rowCounts} = await dumpInSnapshot(client, options, {pgDump, snapshot, databaseName: server.database}, onEvent);
		await client.query('COMMIT');
		return {
			serverVersion: server.version,
			serverVersionNum: server.versionNum,
			systemIdentifier: server.systemIdentifier,
			database: server.database,
			pgDumpVersion: pgDump.version,
			format: 'custom',
			walLsn: lsn,
			rowCounts,
			artifact: {key: stored.key, bytes: stored.bytes, sha256: stored.sha256, format: 'pg_dump-custom'},
		};
	} catch (error) {
		if (signal?.aborted) {
			throw cancelledError(`Nothing was stored at ${key} in ${target.display}.`);
		}

		throw error instanceof MsdbError ? error : asMsdbError(error);
	} finally {
		signal?.removeEventListener('abort', onAbort);
		// Ends the snapshot transaction too, if an error left it open.
		await client.end().catch(() => {});
	}
}

/** Runs pg_dump in the exported snapshot into `target.put`, counting rows meanwhile. */
async function dumpInSnapshot(
	client: pg.Client,
	options: PostgresBackupOptions,
	dumpSettings: {pgDump: PgTool; snapshot: string; databaseName: string},
	onEvent: BackupEventListener,
): Promise<{stored: StoredObject; rowCounts: Record<string, number> | null}> {
	const {target, key, signal} = options;
	// --no-password: fail at once rather than wait for a prompt no one will answer.
	const command = pgToolCommand(dumpSettings.pgDump, ['--format=custom', `--snapshot=${dumpSettings.snapshot}`, '--no-password'], {bufferedStdout: true});
	const dump = runPgTool(
		command.file,
		command.args,
		{
			// The database by name, explicitly: a snapshot can only be imported in the database it came from.
			env: libpqEnvironment(configForDatabase(options.database, dumpSettings.databaseName), {applicationName: PG_DUMP_APPLICATION_NAME}),
			stdin: 'ignore',
			stdout: 'pipe',
			signal,
		},
	);
	let dumpExited = false;
	void dump.finished.then(() => {
		dumpExited = true;
	});
	let countingSettled = false;
	let countCancelledByUs = false;
	const counting = options.rowCounts ? countInSnapshot(client, onEvent, signal) : Promise.resolve(null);
	counting.then(
		() => {
			countingSettled = true;
		},
		() => {
			countingSettled = true;
			// A failed count fails the backup; no reason to let pg_dump run on.
			dump.kill();
		},
	);

	const meter = new ProgressMeter({component: 'postgres', key, operation: 'upload', totalBytes: null}, onEvent);
	// pg_dump writes to a pipe 4 KiB at a time; passing each piece on would cost the target a hash
	// update and a file write or buffer copy per 4 KiB. Batches of ~256 KiB cut that work to a
	// sixtieth and keep memory as flat as before.
	let batch: Buffer[] = [];
	let batchBytes = 0;
	const takeBatch = (): Buffer => {
		const whole = Buffer.concat(batch, batchBytes);
		batch = [];
		batchBytes = 0;
		return whole;
	};

	// The gate holds back the end of the stream until pg_dump has exited 0 and the counts are in:
	// a target completes an object only when its body ends cleanly, so a dump pg_dump gave up on
	// half-way (its stdout ends normally, only the exit status tells) is never stored.
	const gate = new Transform({
		transform(chunk: Buffer, _encoding, callback: TransformCallback) {
			meter.add(chunk.length);
			batch.push(chunk);
			batchBytes += chunk.length;
			callback(null, batchBytes >= BATCH_BYTES ? takeBatch() : undefined);
		},
		flush(callback: TransformCallback) {
			Promise.all([dump.finished, counting]).then(
				([outcome]) => {
					if (!outcome.ok) {
						callback(pgDumpError(outcome, key));
						return;
					}

					callback(null, batchBytes > 0 ? takeBatch() : undefined);
				},
				(error: unknown) => callback(error as Error),
			);
		},
	});
	if (!dump.stdout) {
		throw new BugError('pg_dump was started without a stdout pipe');
	}

	pipeline(dump.stdout, gate, () => {});
	let stored: StoredObject;
	try {
		stored = await target.put(key, gate, {signal});
	} catch (error) {
		// Which came first decides what the message blames: pg_dump failing on its own, a failed
		// count (pg_dump was killed because of it), or the target (pg_dump is killed now).
		const exitedOnItsOwn = dumpExited;
		dump.kill();
		if (!countingSettled) {
			// A count still scanning a large table would hold the failure back: cancel it on the server.
			countCancelledByUs = true;
			const pid = backendPid(client);
			if (pid !== undefined) {
				await cancelBackend(options.database, pid);
			}
		}

		const outcome = await dump.finished;
		const countFailure = await counting.then(
			() => undefined,
			(failure: unknown) => failure,
		);
		if (!signal?.aborted) {
			if (countFailure !== undefined && !countCancelledByUs) {
				throw countFailure;
			}

			if (exitedOnItsOwn && !outcome.ok) {
				throw pgDumpError(outcome, key);
			}
		}

		throw error;
	}

	meter.done({sha256: stored.sha256});
	return {stored, rowCounts: await counting};
}

async function countInSnapshot(client: pg.Client, onEvent: BackupEventListener, signal: AbortSignal | undefined): Promise<Record<string, number>> {
	const tables = await listUserTables(client);
	onEvent({type: 'backup:step', message: `counting the rows of ${tables.length} table(s) in the dump's snapshot`});
	return countRows(client, tables, signal);
}

function pgDumpError(outcome: PgToolOutcome, key: string): ActionableError {
	return new ActionableError('E_BACKUP_FAILED', `pg_dump failed (${outcome.description}); nothing was stored at ${key}.${outcome.stderr ? `\n${outcome.stderr}` : ''}`, {
		nextStep: 'Read pg_dump\'s message above: usually a permission on some object (the backup user needs SELECT on every table), a lock held for too long, or the server going away. Fix it and run the backup again.',
		details: {artifact: key, pgDump: outcome.description},
	});
}
