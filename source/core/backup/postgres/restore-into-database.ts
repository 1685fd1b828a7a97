import {createHash} from 'node:crypto';
import type pg from 'pg';
import {cancelledError} from '../../cancellation.js';
import type {DatabaseConfig} from '../../config/database-config.js';
import {quoteIdentifier} from '../../database/connect.js';
import {ActionableError, MsdbError} from '../../errors.js';
import type {BackupEventListener} from '../backup-events.js';
import type {PostgresManifestPart} from '../backup-manifest-types.js';
import type {BackupTarget} from '../backup-target.js';
import {ProgressMeter} from '../progress-meter.js';
import {connectToDatabase, configForDatabase} from './database-on-server.js';
import {createDatabaseSql, type DatabaseTemplate} from './database-properties.js';
import {feedStdin} from './feed-stdin.js';
import {libpqEnvironment} from './libpq-environment.js';
import {runPgTool} from './run-pg-tool.js';
import {countRows, listUserTables} from './user-tables.js';

/** How pg_restore shows in pg_stat_activity. */
export const PG_RESTORE_APPLICATION_NAME = 'msdb:pg_restore';

export type RestoreIntoDatabaseSettings = {
	/** The server (any database on it). */
	config: DatabaseConfig;
	/** A connection that stays open and is not to `name`: it creates and, on failure, drops it. */
	admin: pg.Client;
	serverVersionNum: number;
	/** The database to create; it must not exist. */
	name: string;
	template: DatabaseTemplate;
	target: BackupTarget;
	part: PostgresManifestPart;
	pgRestorePath: string;
	analyze: boolean;
	countRows: boolean;
	onEvent: BackupEventListener;
	signal?: AbortSignal | undefined;
};

/** A `--dbname` conninfo naming only the database: everything else comes from the environment. */
function dbnameConninfo(name: string): string {
	return `dbname='${name.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** Drops a database we created, even with sessions still on it. Best effort: errors are returned. */
export async function dropDatabase(client: pg.Client, name: string, serverVersionNum: number): Promise<Error | undefined> {
	try {
		if (serverVersionNum >= 130_000) {
			await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
		} else {
			await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
			await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`);
		}

		return undefined;
	} catch (error) {
		return error as Error;
	}
}

/**
 * Creates database `name` and restores the artifact into it with `pg_restore --no-owner
 * --exit-on-error`, the artifact streamed from the target into pg_restore's stdin (never to a
 * temp file), hashed on the way: bytes that differ from the manifest fail the restore even if
 * pg_restore accepted them. Then ANALYZE (a restored database has no statistics, and its first
 * queries would be planned blind) and exact row counts, each when asked.
 *
 * On any failure, or when `signal` fires, the new database is dropped again: what this created
 * is gone, nothing else was touched.
 */
export async function restoreIntoNewDatabase(settings: RestoreIntoDatabaseSettings): Promise<{rowCounts: Record<string, number> | null; bytes: number}> {
	const {admin, name, part, onEvent, signal} = settings;
	const {key} = part.artifact;
	await admin.query(createDatabaseSql(name, settings.template));
	onEvent({type: 'backup:step', message: `created database "${name}"`});
	try {
		const bytes = await runRestore(settings);
		if (settings.analyze) {
			onEvent({type: 'backup:step', message: `ANALYZE "${name}" (fresh statistics for the planner)`});
		}

		let rowCounts: Record<string, number> | null = null;
		if (settings.analyze || settings.countRows) {
			const client = await connectToDatabase(settings.config, name, 'msdb:restore');
			try {
				if (settings.analyze) {
					await client.query('ANALYZE');
				}

				if (settings.countRows) {
					signal?.throwIfAborted();
					const tables = await listUserTables(client);
					onEvent({type: 'backup:step', message: `counting the rows of ${tables.length} restored table(s)`});
					rowCounts = await countRows(client, tables, signal);
				}
			} finally {
				await client.end().catch(() => {});
			}
		}

		return {rowCounts, bytes};
	} catch (error) {
		const dropFailure = await dropDatabase(admin, name, settings.serverVersionNum);
		const dropped = dropFailure
			? `The partly restored database "${name}" could not be dropped (${dropFailure.message}): drop it by hand.`
			: `The partly restored database "${name}" was dropped.`;
		if (signal?.aborted) {
			throw cancelledError(`${dropped} Nothing else was changed.`);
		}

		if (error instanceof MsdbError) {
			throw new ActionableError(error.code === 'E_BUG' ? 'E_RESTORE_FAILED' : error.code, `${error.message}\n${dropped}`, {
				...(error.nextStep ? {nextStep: error.nextStep} : {}),
				details: {...error.details, database: name},
				cause: error,
			});
		}

		throw new ActionableError('E_RESTORE_FAILED', `Restoring ${key} into "${name}" failed: ${(error as Error).message}\n${dropped}`, {
			nextStep: 'Check the server (disk space, permissions of the restoring user) and try again.',
			details: {artifact: key, database: name},
			cause: error,
		});
	}
}

/** pg_restore fed from the target; returns the artifact's size once its hash checked out. */
async function runRestore(settings: RestoreIntoDatabaseSettings): Promise<number> {
	const {part, name, onEvent, signal} = settings;
	const {key} = part.artifact;
	const source = await settings.target.get(key, signal ? {signal} : {});
	const restore = runPgTool(
		settings.pgRestorePath,
		// --no-owner: the restoring user owns what it creates, so a restore works on a server
		// without the original roles. --exit-on-error: a half-restored database is no restore.
		['--no-owner', '--exit-on-error', '--no-password', `--dbname=${dbnameConninfo(name)}`],
		{
			env: libpqEnvironment(configForDatabase(settings.config, name), {applicationName: PG_RESTORE_APPLICATION_NAME}),
			stdin: 'pipe',
			stdout: 'ignore',
			signal,
		},
	);
	let failedEarly = false;
	void restore.finished.then(outcome => {
		failedEarly = !outcome.ok;
	});
	const meter = new ProgressMeter({component: 'postgres', key, operation: 'restore', totalBytes: part.artifact.bytes}, onEvent);
	const hash = createHash('sha256');
	let feedError: unknown;
	try {
		await feedStdin(source, restore.stdin, {
			onChunk: chunk => {
				hash.update(chunk);
				meter.add(chunk.length);
			},
			abandon: () => failedEarly,
			signal,
		});
	} catch (error) {
		feedError = error;
		source.destroy();
		restore.kill();
	}

	const outcome = await restore.finished;
	if (signal?.aborted) {
		throw cancelledError('');
	}

	if (feedError) {
		throw feedError;
	}

	if (!outcome.ok) {
		throw new ActionableError('E_RESTORE_FAILED', `pg_restore failed on ${key} (${outcome.description}).${outcome.stderr ? `\n${outcome.stderr}` : ''}`, {
			nextStep: 'Read pg_restore\'s message above: a missing role or extension on this server, too little disk, or a damaged artifact (run `msdb backup verify`).',
			details: {artifact: key, pgRestore: outcome.description},
		});
	}

	const sha256 = hash.digest('hex');
	if (meter.bytes !== part.artifact.bytes || sha256 !== part.artifact.sha256) {
		throw new ActionableError(
			'E_RESTORE_FAILED',
			`${key} is not the artifact the manifest describes: ${meter.bytes} bytes with sha256 ${sha256}, the manifest says ${part.artifact.bytes} bytes with sha256 ${part.artifact.sha256}.`,
			{nextStep: 'The stored dump was changed or damaged after the backup: restore another backup.', details: {artifact: key}},
		);
	}

	meter.done({sha256});
	return meter.bytes;
}
