import {z} from 'zod';
import type {BackupTarget} from '../../core/backup/backup-target.js';
import type {RedisClient} from '../../core/redis/redis-client.js';
import type {RedisEndpoint} from '../../core/redis/redis-config.js';
import {optionMeta} from '../option-meta.js';

/** `--target`: where backups live. */
export const targetOption = z
	.string()
	.optional()
	.describe(optionMeta({description: 'Backup target: s3://bucket/prefix or a directory (else MSDB_BACKUP_TARGET)', valueDescription: 'url'}));

export const onlyOption = z
	.enum(['postgres', 'redis'])
	.optional()
	.describe(optionMeta({description: 'Only this component (default: both)', valueDescription: 'component'}));

/** Opens `--target`, else MSDB_BACKUP_TARGET; refuses (exit 2) when neither is given. */
export async function openTarget(targetUrl: string | undefined, env: NodeJS.ProcessEnv): Promise<BackupTarget> {
	const [{openBackupTarget}, {ActionableError}] = await Promise.all([import('../../core/backup/targets/open-backup-target.js'), import('../../core/errors.js')]);
	const url = targetUrl ?? env.MSDB_BACKUP_TARGET;
	if (url === undefined || url.trim() === '') {
		throw new ActionableError('E_BAD_ARGUMENT', 'No backup target: nowhere to read or write backups.', {
			nextStep: 'Pass --target s3://bucket/prefix (or a directory), or set MSDB_BACKUP_TARGET.',
		});
	}

	return openBackupTarget(url, env);
}

/**
 * The Redis to back up or restore into: `--redis-url`, else REDIS_URL. Undefined when neither is
 * set: silently backing up whatever listens on localhost would be a surprise.
 */
export async function openRedis(
	redisUrl: string | undefined,
	env: NodeJS.ProcessEnv,
	connectionName: string,
): Promise<{endpoint: RedisEndpoint; client: RedisClient; close(): void} | undefined> {
	const url = redisUrl ?? (env.REDIS_URL?.trim() ? env.REDIS_URL : undefined);
	if (url === undefined) {
		return undefined;
	}

	const [{parseRedisUrl}, {createRedisClient}] = await Promise.all([import('../../core/redis/redis-config.js'), import('../../core/redis/create-redis-client.js')]);
	const endpoint = parseRedisUrl(url, redisUrl === undefined ? 'REDIS_URL' : '--redis-url');
	// Generous deadline: dump mode and restores send large payloads.
	const {client} = createRedisClient(endpoint, {connectionName, commandTimeoutMs: 30_000});
	return {
		endpoint,
		client,
		close() {
			client.disconnect();
		},
	};
}

/** "3 h", "2 d": how old a backup is, for tables. */
export function formatAge(ms: number): string {
	const minutes = Math.floor(ms / 60_000);
	if (minutes < 60) {
		return `${Math.max(minutes, 0)} min`;
	}

	const hours = Math.floor(minutes / 60);
	return hours < 48 ? `${hours} h` : `${Math.floor(hours / 24)} d`;
}
