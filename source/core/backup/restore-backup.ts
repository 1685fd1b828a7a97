import {throwIfCancelled} from '../cancellation.js';
import type {DatabaseConfig} from '../config/database-config.js';
import {connectDatabase} from '../database/connect.js';
import {ActionableError} from '../errors.js';
import type {RedisClient} from '../redis/redis-client.js';
import type {RedisEndpoint} from '../redis/redis-config.js';
import {readBackup} from './backup-catalogue.js';
import type {BackupEventListener} from './backup-events.js';
import type {BackupComponent, BackupManifest, VerificationRecord} from './backup-manifest-types.js';
import type {BackupTarget} from './backup-target.js';
import {compareRowCounts, restorePostgres, verifyPostgresArtifact, type PostgresRestoreResult} from './postgres/index.js';
import {restoreRedis, verifyRedisArtifact, type RedisRestoreResult} from './redis/index.js';

export type RestoreBackupOptions = {
	target: BackupTarget;
	id: string;
	/** The backup's manifest when the caller has already read (and so checked) it. */
	manifest?: BackupManifest | undefined;
	/** Restore only these (default: every component of the backup). */
	components?: BackupComponent[] | undefined;
	/** PostgreSQL: a new database beside the live one (default), or swapped in under its name. */
	into?: 'new' | 'replace' | undefined;
	newDatabaseName?: string | undefined;
	/** Names typed to confirm destructive steps: the live database for `replace`, the Redis address for `redisFlush`. */
	confirm?: string[] | undefined;
	/** FLUSHALL the target Redis first. */
	redisFlush?: boolean | undefined;
	/** The PostgreSQL server (and, for `replace`, the live database). */
	database?: DatabaseConfig | undefined;
	/** The Redis to restore into. */
	redis?: {endpoint: RedisEndpoint; client: RedisClient} | undefined;
	onEvent?: BackupEventListener | undefined;
	signal?: AbortSignal | undefined;
};

export type RestoreBackupResult = {
	id: string;
	postgres: (PostgresRestoreResult & {countProblems: string[]}) | null;
	redis: RedisRestoreResult | null;
	/** Count differences against the manifest, for both components. */
	problems: string[];
	/** What to do now, in order. */
	nextSteps: string[];
};

/** The name an operator types to confirm flushing a Redis: its address, or its Sentinel master name. */
export function redisConfirmationName(endpoint: RedisEndpoint): string {
	switch (endpoint.kind) {
		case 'standalone': {
			return `${endpoint.host}:${endpoint.port}`;
		}

		case 'cluster': {
			const [seed] = endpoint.seeds;
			return seed ? `${seed.host}:${seed.port}` : 'cluster';
		}

		case 'sentinel': {
			return endpoint.masterName;
		}
	}
}

/**
 * Restores a backup for an on-call engineer: refuses every destructive step that was not
 * confirmed by name, then verifies every artifact it will use and touches nothing if that
 * fails, then restores PostgreSQL (into a new database, or swapped in with the old one kept
 * aside) and Redis (keys replayed with RESTORE … ABSTTL REPLACE), and finally compares counts
 * with the manifest and says what to do next.
 */
export async function restoreBackup(options: RestoreBackupOptions): Promise<RestoreBackupResult> {
	const onEvent = options.onEvent ?? (() => {});
	const {target, id} = options;
	const manifest = options.manifest ?? (await readBackup(target, id));
	const components = chooseComponents(manifest, options.components);
	const confirmations = new Set(options.confirm ?? []);

	// 1. Every confirmation first, before reading a byte of the artifacts.
	let liveDatabase: string | undefined;
	if (components.includes('postgres')) {
		if (!options.database) {
			throw new ActionableError('E_BAD_ARGUMENT', 'Restoring PostgreSQL needs a server: pass --database-url (or set DATABASE_URL / PG*).');
		}

		if (options.into === 'replace') {
			const live = await liveDatabaseName(options.database);
			liveDatabase = live;
			if (!confirmations.has(live)) {
				throw new ActionableError('E_CONFIRMATION_REQUIRED', `--into replace swaps the restored copy in place of "${live}". Nothing was changed.`, {
					nextStep: `Confirm by typing the database name: --confirm ${live}. The live database is kept aside as ${live}_pre_restore_<timestamp>.`,
					details: {database: live},
				});
			}
		}
	}

	if (components.includes('redis')) {
		if (!options.redis) {
			throw new ActionableError('E_BAD_ARGUMENT', 'Restoring Redis needs a target server: pass --redis-url (or set REDIS_URL).');
		}

		const name = redisConfirmationName(options.redis.endpoint);
		if (options.redisFlush && !confirmations.has(name)) {
			throw new ActionableError('E_CONFIRMATION_REQUIRED', `--redis-flush empties every database of the Redis at ${options.redis.endpoint.display} first. Nothing was changed.`, {
				nextStep: `Confirm by typing its address: --confirm ${name}.`,
				details: {redis: name},
			});
		}
	}

	// 2. Verify what will be used; touch nothing if that fails.
	const problems: VerificationRecord['problems'] = [];
	if (components.includes('postgres') && manifest.postgres) {
		onEvent({type: 'backup:step', message: `verifying ${manifest.postgres.artifact.key} before restoring`});
		problems.push(...(await verifyPostgresArtifact({target, part: manifest.postgres, onEvent, signal: options.signal})).problems);
	}

	if (components.includes('redis') && manifest.redis) {
		onEvent({type: 'backup:step', message: `verifying ${manifest.redis.artifact.key} before restoring`});
		problems.push(...(await verifyRedisArtifact({target, part: manifest.redis, onEvent, ...(options.signal ? {signal: options.signal} : {})})).problems);
	}

	if (problems.length > 0) {
		throw new ActionableError(
			'E_BACKUP_UNVERIFIED',
			[`Backup ${id} failed verification; nothing was restored or changed:`, ...problems.map(problem => `  ${problem.message}`)].join('\n'),
			{
				nextStep: `Restore an earlier backup (\`msdb backup list\`), or investigate with \`msdb backup verify ${id}\`.`,
				details: {problems},
			},
		);
	}

	// 3. Restore.
	const nextSteps: string[] = [];
	let postgres: RestoreBackupResult['postgres'] = null;
	if (components.includes('postgres') && manifest.postgres && options.database) {
		throwIfCancelled(options.signal, 'Nothing was restored.');
		const result = await restorePostgres({
			database: options.database,
			target,
			part: manifest.postgres,
			into: options.into ?? 'new',
			newDatabaseName: options.newDatabaseName,
			// Checked above against what the operator typed.
			confirm: liveDatabase,
			onEvent,
			signal: options.signal,
		});
		const countProblems =
			manifest.postgres.rowCounts && result.rowCounts ? compareRowCounts(manifest.postgres.rowCounts, result.rowCounts).map(problem => problem.message) : [];
		postgres = {...result, countProblems};
		if (result.into === 'new') {
			nextSteps.push(
				`The restored data is in the new database "${result.database}"; nothing else was changed. Point DATABASE_URL at it to use it, or copy what you need from it; drop it when done (DROP DATABASE "${result.database}").`,
			);
		} else {
			nextSteps.push(
				`"${result.database}" now holds the restored data; the previous database is kept as "${result.asideDatabase ?? '?'}". To switch back, run (connected to another database): ${result.switchBack ?? ''}`,
			);
		}
	}

	let redis: RedisRestoreResult | null = null;
	if (components.includes('redis') && manifest.redis && options.redis) {
		throwIfCancelled(options.signal, postgres ? 'PostgreSQL was restored; Redis was not touched.' : 'Nothing was restored.');
		redis = await restoreRedis({
			target,
			part: manifest.redis,
			client: options.redis.client,
			flush: Boolean(options.redisFlush),
			onEvent,
			...(options.signal ? {signal: options.signal} : {}),
		});
		nextSteps.push(
			`Redis at ${options.redis.endpoint.display}: ${redis.restored} key(s) restored${redis.skippedExpired > 0 ? `, ${redis.skippedExpired} already expired and skipped` : ''}.`,
		);
	}

	const countProblems = [...(postgres?.countProblems ?? []), ...(redis?.problems ?? [])];
	if (countProblems.length > 0) {
		nextSteps.push('Counts differ from the manifest (listed above): compare before switching traffic to the restored data.');
	}

	return {id, postgres, redis, problems: countProblems, nextSteps};
}

function chooseComponents(manifest: BackupManifest, requested: BackupComponent[] | undefined): BackupComponent[] {
	if (!requested) {
		return manifest.components;
	}

	const missing = requested.filter(component => !manifest.components.includes(component));
	if (missing.length > 0) {
		throw new ActionableError('E_BAD_ARGUMENT', `Backup ${manifest.id} has no ${missing.join(' or ')} part (it holds: ${manifest.components.join(', ')}).`, {
			nextStep: `Leave out --only, or pick a backup that has ${missing.join(' and ')} (\`msdb backup list\`).`,
		});
	}

	return requested;
}

/**
 * The database `--into replace` would swap out: the one the connection lands in (a URL without
 * a database name, or PG* settings, pick it for the server). What a person must type to confirm.
 */
export async function liveDatabaseName(database: DatabaseConfig): Promise<string> {
	const client = await connectDatabase(database, {applicationName: 'msdb:restore'});
	try {
		return (await client.query<{name: string}>('SELECT current_database() AS name')).rows[0]?.name ?? '';
	} finally {
		await client.end().catch(() => {});
	}
}
