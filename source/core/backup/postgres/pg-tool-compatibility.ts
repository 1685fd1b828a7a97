import {ActionableError} from '../../errors.js';
import type {PgTool} from './pg-tools.js';

/**
 * The major version of a server from `server_version_num`: 150020 → 15, 90624 → 9 (before 10
 * the major had two parts, 9.6, but no pg_dump that can dump it cares about the second).
 */
export function serverMajorVersion(serverVersionNum: number): number {
	return Math.floor(serverVersionNum / 10_000);
}

/**
 * Refuses (E_PG_DUMP_TOO_OLD, exit 2) when pg_dump's major version is older than the server's:
 * pg_dump itself would refuse ("aborting because of server version mismatch"), but only after
 * the backup had started, and without saying what to install. Pure, so it is tested directly.
 */
export function assertPgDumpCanDump(pgDump: Pick<PgTool, 'path' | 'version' | 'majorVersion'>, server: {version: string; versionNum: number}): void {
	const serverMajor = serverMajorVersion(server.versionNum);
	if (pgDump.majorVersion < serverMajor) {
		throw new ActionableError(
			'E_PG_DUMP_TOO_OLD',
			`pg_dump ${pgDump.version} (${pgDump.path}) cannot back up this server: it runs PostgreSQL ${server.version}, and pg_dump refuses servers newer than its own major version. Nothing was backed up.`,
			{
				nextStep: `Install the PostgreSQL ${serverMajor} client programs or newer (e.g. apt-get install postgresql-client-${serverMajor}) and run the backup again.`,
				details: {pgDumpVersion: pgDump.version, pgDumpPath: pgDump.path, serverVersion: server.version, serverVersionNum: server.versionNum},
			},
		);
	}
}

/** The major version in a version string: `15.20` → 15, `9.6.24` → 9. */
export function majorOfVersion(version: string): number {
	return Number.parseInt(version, 10);
}

/**
 * Refuses (E_PG_RESTORE_TOO_OLD, exit 2) when pg_restore is older than the pg_dump that wrote the
 * archive: newer pg_dumps write archive format versions older pg_restores cannot read, and the
 * restore would stop at the first byte with "unsupported version in file header".
 */
export function assertPgRestoreCanRead(pgRestore: Pick<PgTool, 'path' | 'version' | 'majorVersion'>, archive: {pgDumpVersion: string; key: string}): void {
	const archiveMajor = majorOfVersion(archive.pgDumpVersion);
	if (Number.isFinite(archiveMajor) && pgRestore.majorVersion < archiveMajor) {
		throw new ActionableError(
			'E_PG_RESTORE_TOO_OLD',
			`pg_restore ${pgRestore.version} (${pgRestore.path}) cannot read ${archive.key}: it was written by pg_dump ${archive.pgDumpVersion}. Nothing was changed.`,
			{
				nextStep: `Install the PostgreSQL ${archiveMajor} client programs or newer (e.g. apt-get install postgresql-client-${archiveMajor}) and run the command again.`,
				details: {pgRestoreVersion: pgRestore.version, pgRestorePath: pgRestore.path, archivePgDumpVersion: archive.pgDumpVersion, artifact: archive.key},
			},
		);
	}
}
