/**
 * Manifests and verification records as backup create and verify write them, for tests of the
 * manifest and the catalogue. Values are realistic (a PostgreSQL 16 server, a Redis 7.2 RDB),
 * and every manifest passes parseManifest unless a test breaks it on purpose.
 */
import type {BackupManifest, VerificationRecord} from '../../source/core/backup/backup-manifest-types.js';
import {MANIFEST_FORMAT_VERSION} from '../../source/core/backup/backup-manifest-types.js';
import {artifactKey} from '../../source/core/backup/backup-manifest.js';

export type UnsealedManifest = Omit<BackupManifest, 'manifestSha256'>;

export function sampleManifest(id: string, options: {startedAt?: Date; durationMs?: number; postgresBytes?: number; redisBytes?: number; only?: 'postgres' | 'redis'} = {}): UnsealedManifest {
	const startedAt = options.startedAt ?? new Date('2025-01-02T03:04:05.000Z');
	const finishedAt = new Date(startedAt.getTime() + (options.durationMs ?? 90_000));
	const postgres = options.only === 'redis' ? null : {
		serverVersion: '16.4',
		serverVersionNum: 160_004,
		systemIdentifier: '7401234567890123456',
		database: 'agents',
		pgDumpVersion: '16.4',
		format: 'custom' as const,
		walLsn: '0/16B3748',
		rowCounts: {'public.agents': 1200, 'public.sessions': 45_000},
		artifact: {key: artifactKey(id, 'postgres.dump'), bytes: options.postgresBytes ?? 5_242_880, sha256: 'a'.repeat(64), format: 'pg_dump-custom' as const},
	};
	const redis = options.only === 'postgres' ? null : {
		serverVersion: '7.2.4',
		mode: 'sync' as const,
		rdbVersion: 11,
		replicationId: '8b1e7c1d3f0c4e2a9b5d6f7a8c9e0b1d2f3a4b5c',
		replicationOffset: 123_456,
		keysPerDatabase: {'0': 1200, '3': 5, '10': 2},
		artifact: {key: artifactKey(id, 'redis.rdb'), bytes: options.redisBytes ?? 1_048_576, sha256: 'b'.repeat(64), format: 'rdb' as const},
	};
	return {
		formatVersion: MANIFEST_FORMAT_VERSION,
		id,
		startedAt: startedAt.toISOString(),
		finishedAt: finishedAt.toISOString(),
		toolVersion: '0.1.0',
		components: [...(postgres ? ['postgres' as const] : []), ...(redis ? ['redis' as const] : [])],
		postgres,
		redis,
	};
}

export function sampleVerification(backupId: string, verifiedAt: Date, ok: boolean, drill = false): VerificationRecord {
	return {
		backupId,
		verifiedAt: verifiedAt.toISOString(),
		drill,
		ok,
		problems: ok ? [] : [{component: 'postgres', artifact: `${backupId}/postgres.dump`, message: 'sha256 mismatch'}],
		...(drill ? {counts: {postgres: {'public.agents': 1200}, redis: {'0': 1200}}} : {}),
		toolVersion: '0.1.0',
	};
}
