import type {DutyRunContext, WorkerDuty} from './worker-duty.js';

/** "msdb_ses" in ASCII: the advisory lock of expired-session cleanup. */
export const SESSION_CLEANUP_LOCK_KEY = '7886757746126841203';

/** Rows per DELETE: each statement holds its row locks briefly and writes a bounded amount of WAL. */
export const DEFAULT_SESSION_BATCH_SIZE = 1000;

/**
 * Expired sessions, oldest expiry first, in one bounded statement. `expires_at` (the sliding idle
 * expiry) never passes `absolute_expires_at` (a table constraint), so it alone decides. SKIP
 * LOCKED: a session being touched right now by the application is left for the next batch
 * rather than waited for. The expiry index (sessions_expires_at_idx) makes each batch cheap.
 */
const DELETE_BATCH_SQL = `WITH doomed AS (
	SELECT id FROM sessions.sessions
	WHERE expires_at <= now()
	ORDER BY expires_at
	LIMIT $1
	FOR UPDATE SKIP LOCKED
)
DELETE FROM sessions.sessions AS s USING doomed WHERE s.id = doomed.id`;

/**
 * Deletes the expired rows of `sessions.sessions` (the durable copy of sessions; Redis expires its
 * own) in batches of `batchSize`, each its own short transaction, until none is left or the worker
 * stops (between batches).
 */
export function sessionCleanupDuty(options: {batchSize?: number} = {}): WorkerDuty {
	const batchSize = options.batchSize ?? DEFAULT_SESSION_BATCH_SIZE;
	return {
		name: 'session-cleanup',
		lockKey: SESSION_CLEANUP_LOCK_KEY,
		async run({client, stopping}: DutyRunContext) {
			let deleted = 0;
			for (;;) {
				const result = await client.query(DELETE_BATCH_SQL, [batchSize]);
				const count = result.rowCount ?? 0;
				deleted += count;
				if (count < batchSize || stopping.aborted) {
					break;
				}
			}

			return {news: deleted > 0 ? `session-cleanup: deleted ${deleted} expired session(s)` : undefined, sessionsDeleted: deleted};
		},
	};
}
