import type {BackupSummary} from '../../core/backup/backup-catalogue.js';
import type {BackupComponent} from '../../core/backup/backup-manifest-types.js';

/** PostgreSQL: a new database beside the live one, swapped in under the live name, or left out. */
export type PostgresChoice = 'new' | 'replace' | 'skip';

/** Redis: keys replayed over what is there, the server flushed first, or left out. */
export type RedisChoice = 'merge' | 'flush' | 'skip';

/** Where the Redis part would go, when the console has a Redis URL. */
export type RedisDestination = {display: string; confirmationName: string};

/** What the person chose; the review screen reads it back and the run executes exactly it. */
export type RestorePlan = {
	backup: BackupSummary;
	postgres: PostgresChoice;
	redis: RedisChoice;
	/** `replace`: the live database's name, as the core will demand it typed. */
	liveDatabase: string | undefined;
	redisDestination: RedisDestination | undefined;
};

/** The components the run restores. */
export function planComponents(plan: RestorePlan): BackupComponent[] {
	return [...(plan.postgres === 'skip' ? [] : ['postgres' as const]), ...(plan.redis === 'skip' ? [] : ['redis' as const])];
}

/** The names to type before the run, in the order they are asked for; empty when nothing is destroyed. */
export function planConfirmations(plan: RestorePlan): Array<{kind: 'replace' | 'flush'; expected: string}> {
	return [
		...(plan.postgres === 'replace' && plan.liveDatabase !== undefined ? [{kind: 'replace' as const, expected: plan.liveDatabase}] : []),
		...(plan.redis === 'flush' && plan.redisDestination ? [{kind: 'flush' as const, expected: plan.redisDestination.confirmationName}] : []),
	];
}

/** One sentence per component: what the run will do to what, in plain words. */
export function describePlan(plan: RestorePlan): string[] {
	const lines: string[] = [];
	const postgres = plan.backup.manifest.postgres;
	if (postgres) {
		switch (plan.postgres) {
			case 'new': {
				lines.push(`PostgreSQL: "${postgres.database}" from the backup is restored into a NEW database beside the live one (named ${postgres.database}_restore_<time>). Nothing else changes.`);
				break;
			}

			case 'replace': {
				const live = plan.liveDatabase ?? '?';
				lines.push(
					`PostgreSQL: restored into a new database first; only when that has fully succeeded, the sessions on "${live}" are ended and the restored copy takes its name. The current "${live}" is kept aside as ${live}_pre_restore_<time>, so you can switch back.`,
				);
				break;
			}

			case 'skip': {
				lines.push('PostgreSQL: not restored.');
				break;
			}
		}
	}

	if (plan.backup.manifest.redis) {
		const where = plan.redisDestination?.display ?? 'Redis';
		switch (plan.redis) {
			case 'merge': {
				lines.push(`Redis: the backup's keys are replayed into ${where}; keys with the same names are overwritten, other keys stay.`);
				break;
			}

			case 'flush': {
				lines.push(`Redis: EVERY database of ${where} is emptied (FLUSHALL), then the backup's keys are replayed.`);
				break;
			}

			case 'skip': {
				lines.push('Redis: not restored.');
				break;
			}
		}
	}

	return lines;
}
