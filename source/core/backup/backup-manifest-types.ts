/**
 * The shape of `manifest.json` (DESIGN.md, "Backups"): written last, so no manifest means no
 * backup. The zod schema in backup-manifest.ts validates exactly this shape.
 */

export const MANIFEST_FORMAT_VERSION = 1;

/** One stored artifact, by key relative to the target root (always inside `<id>/`). */
export type ArtifactRef = {
	key: string;
	bytes: number;
	sha256: string;
	format: 'pg_dump-custom' | 'rdb' | 'msdb-redis-dump-v1';
};

export type PostgresManifestPart = {
	serverVersion: string;
	serverVersionNum: number;
	systemIdentifier: string;
	database: string;
	pgDumpVersion: string;
	format: 'custom';
	/** pg_current_wal_lsn() when the dump's snapshot was taken. */
	walLsn: string;
	/** Exact row counts per `schema.table`, taken in the dump's own snapshot, when requested. */
	rowCounts: Record<string, number> | null;
	artifact: ArtifactRef;
};

export type RedisManifestPart = {
	serverVersion: string;
	/** `sync`: an RDB fetched over the replication protocol; `dump`: SCAN + DUMP + PTTL records. */
	mode: 'sync' | 'dump';
	/** RDB format version of the artifact (sync), or of the DUMP payloads (dump). */
	rdbVersion: number;
	replicationId: string | null;
	replicationOffset: number | null;
	/** Keys per logical database, as found in the artifact: `{"0": 1200, "3": 5}`. */
	keysPerDatabase: Record<string, number>;
	artifact: ArtifactRef;
};

export type BackupComponent = 'postgres' | 'redis';

export type BackupManifest = {
	formatVersion: typeof MANIFEST_FORMAT_VERSION;
	/** `YYYYMMDDTHHMMSSZ-<6 hex>`: sorts by time, unique. */
	id: string;
	startedAt: string;
	finishedAt: string;
	toolVersion: string;
	components: BackupComponent[];
	postgres: PostgresManifestPart | null;
	redis: RedisManifestPart | null;
	/** sha256 of the canonical JSON of the manifest without this field. */
	manifestSha256: string;
};

/** Written beside the manifest by `verify` (`<id>/verification-<timestamp>.json`). */
export type VerificationRecord = {
	backupId: string;
	verifiedAt: string;
	drill: boolean;
	ok: boolean;
	problems: Array<{component: BackupComponent | 'manifest'; artifact?: string; message: string}>;
	/** Counts found by a drill restore, against the manifest's. */
	counts?: {postgres?: Record<string, number>; redis?: Record<string, number>};
	toolVersion: string;
};
