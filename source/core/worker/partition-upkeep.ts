import type {DutyRunContext, WorkerDuty} from './worker-duty.js';

/** The parts of a server NOTICE/WARNING message the worker passes on. */
type ServerNotice = {severity?: string | undefined; message?: string | undefined; hint?: string | undefined};

/** "msdb_prt" in ASCII: the advisory lock of partition upkeep (the migration lock is "msdb_mig"). */
export const PARTITION_UPKEEP_LOCK_KEY = '7886757746126647924';

/** Months after the current one kept ready by default: a quarter of slack if the worker stops. */
export const DEFAULT_MONTHS_AHEAD = 3;

/**
 * Keeps the monthly partitions of `messages.messages` ahead of time with the schema's own
 * `messages.ensure_partitions(months_ahead)` (migrations/0006_messages.sql): it creates the
 * current month's and the next `monthsAhead` months' partitions that are missing, is idempotent,
 * and skips (with a WARNING) a month whose rows already sit in the default partition — those
 * warnings are passed on, since only a person can move the rows.
 */
export function partitionUpkeepDuty(options: {monthsAhead: number}): WorkerDuty {
	return {
		name: 'partition-upkeep',
		lockKey: PARTITION_UPKEEP_LOCK_KEY,
		async run({client, report}: DutyRunContext) {
			const onNotice = (notice: ServerNotice) => {
				if (notice.severity === 'WARNING' || notice.severity === 'NOTICE') {
					report(`partition-upkeep: ${notice.severity.toLowerCase()}: ${notice.message ?? ''}${notice.hint ? ` (${notice.hint})` : ''}`);
				}
			};

			client.on('notice', onNotice);
			try {
				const result = await client.query<{name: string}>('SELECT name FROM messages.ensure_partitions($1::integer) AS name', [options.monthsAhead]);
				const created = result.rows.map(row => `messages.${row.name}`);
				return {
					news: created.length > 0 ? `partition-upkeep: created ${created.join(', ')}` : undefined,
					partitionsCreated: created,
				};
			} finally {
				client.off('notice', onNotice);
			}
		},
	};
}
