import {setTimeout as sleep} from 'node:timers/promises';
import type pg from 'pg';
import {throwIfCancelled} from '../cancellation.js';
import {ActionableError} from '../errors.js';
import type {MigrationEventListener} from './migration-events.js';

/**
 * The migration lock: a session-level advisory lock, taken with `pg_try_advisory_lock` and
 * polled. Two reasons for that shape (reference: flyway#1654):
 * - a session lock holds no transaction open, so `CREATE INDEX CONCURRENTLY` run by the holder
 *   cannot deadlock against it;
 * - polling a try-lock lets us give up after `--lock-timeout` with a message naming the holder,
 *   where a blocking `pg_advisory_lock` would wait silently.
 */

/** "msdb_mig" in ASCII: a fixed key every msdb process agrees on, unlikely to clash. */
export const MIGRATION_LOCK_KEY = '7886757746126448999';
const LOCK_CLASS_ID = Number(BigInt(MIGRATION_LOCK_KEY) >> 32n);
const LOCK_OBJECT_ID = Number(BigInt(MIGRATION_LOCK_KEY) & 0xffffffffn);

const POLL_MIN_MS = 50;
const POLL_MAX_MS = 500;

export type MigrationLock = {
	waitedMs: number;
	release(): Promise<void>;
};

/** Waits up to `timeoutMs` for the lock; throws E_LOCK_TIMEOUT naming who holds it. */
export async function acquireMigrationLock(
	client: pg.ClientBase,
	options: {timeoutMs: number; onEvent: MigrationEventListener; signal?: AbortSignal | undefined},
): Promise<MigrationLock> {
	const started = performance.now();
	let delay = POLL_MIN_MS;
	let announced = false;
	for (;;) {
		throwIfCancelled(options.signal, 'Nothing was done: the run was still waiting for the migration lock.');
		const result = await client.query<{locked: boolean}>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [MIGRATION_LOCK_KEY]);
		if (result.rows[0]?.locked) {
			const waitedMs = performance.now() - started;
			if (announced) {
				options.onEvent({type: 'lock:acquired', waitedMs});
			}

			return {
				waitedMs,
				async release() {
					await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch(() => {
						// The session ending releases the lock too; nothing else to do.
					});
				},
			};
		}

		const elapsed = performance.now() - started;
		if (!announced) {
			options.onEvent({type: 'lock:waiting', holder: await describeLockHolder(client)});
			announced = true;
		}

		if (elapsed >= options.timeoutMs) {
			const holder = await describeLockHolder(client);
			throw new ActionableError(
				'E_LOCK_TIMEOUT',
				`Another migration run still holds the migration lock after ${Math.round(elapsed / 1000)} s${holder ? ` (${holder})` : ''}; nothing was run.`,
				{
					nextStep:
						'Wait for that run to finish and try again, raise --lock-timeout, or, if it is stuck, end its session with pg_terminate_backend(pid).',
					details: {holder},
				},
			);
		}

		// Jittered backoff keeps eight waiting processes from polling in lockstep.
		const wait = Math.min(delay, options.timeoutMs - elapsed) * (0.75 + Math.random() * 0.5);
		await sleep(Math.max(1, wait), undefined, {signal: options.signal}).catch(() => {
			// Aborted: the check at the top of the loop says so.
		});
		delay = Math.min(delay * 2, POLL_MAX_MS);
	}
}

/** "pid 1234, msdb:migrate, started 12 s ago" for the session holding the lock, if visible. */
async function describeLockHolder(client: pg.ClientBase): Promise<string | undefined> {
	const result = await client.query<{pid: number; application_name: string; seconds: number | null}>(
		`SELECT a.pid, a.application_name, extract(epoch FROM now() - a.backend_start)::int AS seconds
		 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		 WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		   AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1
		 LIMIT 1`,
		[LOCK_CLASS_ID, LOCK_OBJECT_ID],
	);
	const row = result.rows[0];
	if (!row) {
		return undefined;
	}

	return `pid ${row.pid}${row.application_name ? `, ${row.application_name}` : ''}${row.seconds === null ? '' : `, connected ${row.seconds} s ago`}`;
}
