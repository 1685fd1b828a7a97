import {setTimeout as sleep} from 'node:timers/promises';
import type pg from 'pg';
import {quoteIdentifier, quoteLiteral} from '../../database/connect.js';
import type {BackupEventListener} from '../backup-events.js';

/** SQLSTATE object_in_use: "database … is being accessed by other users". */
const OBJECT_IN_USE = '55006';
const RENAME_ATTEMPTS = 5;

/**
 * The SQL that undoes a swap: ends the sessions on both, then the two renames in reverse, in one
 * transaction (all or nothing). Run it connected to a third database, such as `postgres`.
 */
export function switchBackSql(names: {live: string; aside: string; restored: string}): string {
	const live = quoteIdentifier(names.live);
	return [
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN (${quoteLiteral(names.live)}, ${quoteLiteral(names.aside)}) AND pid <> pg_backend_pid();`,
		'BEGIN;',
		`ALTER DATABASE ${live} RENAME TO ${quoteIdentifier(names.restored)};`,
		`ALTER DATABASE ${quoteIdentifier(names.aside)} RENAME TO ${live};`,
		'COMMIT;',
	].join('\n');
}

/**
 * Puts the restored database in the live one's place: live → aside, restored → live.
 *
 * PostgreSQL renames only a database nobody is connected to, and clients reconnect fast; so new
 * connections to the live database are refused first (ALLOW_CONNECTIONS false), its sessions are
 * ended, and both renames run in one transaction, retried while a session lingers. Either both
 * renames happen or neither: there is no moment without a database under the live name. The
 * aside database accepts connections again afterwards (to inspect it, or to switch back). On
 * failure the live database is left as it was, connections allowed again.
 *
 * `client` must be connected to a third database (see maintenanceDatabaseFor).
 */
export async function swapDatabases(
	client: pg.Client,
	names: {live: string; aside: string; restored: string},
	onEvent: BackupEventListener,
): Promise<{warnings: string[]}> {
	const live = quoteIdentifier(names.live);
	const {rows} = await client.query<{allowed: boolean}>('SELECT datallowconn AS allowed FROM pg_catalog.pg_database WHERE datname = $1', [names.live]);
	const allowedBefore = rows[0]?.allowed ?? true;
	if (allowedBefore) {
		await client.query(`ALTER DATABASE ${live} WITH ALLOW_CONNECTIONS false`);
	}

	let swapped = false;
	try {
		for (let attempt = 1; ; attempt++) {
			// In the select list, not the WHERE clause: only rows that passed the filter are terminated.
			const ended = await client.query<{ended: boolean}>(
				'SELECT pg_terminate_backend(pid) AS ended FROM pg_catalog.pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
				[names.live],
			);
			onEvent({type: 'backup:step', message: `ended ${ended.rows.filter(row => row.ended).length} session(s) on "${names.live}"`});
			try {
				// RENAME waits up to 5 s for terminated sessions to exit before giving up.
				await client.query(
					`BEGIN; ALTER DATABASE ${live} RENAME TO ${quoteIdentifier(names.aside)}; ALTER DATABASE ${quoteIdentifier(names.restored)} RENAME TO ${live}; COMMIT`,
				);
				swapped = true;
				break;
			} catch (error) {
				await client.query('ROLLBACK').catch(() => {});
				if ((error as {code?: string}).code !== OBJECT_IN_USE || attempt >= RENAME_ATTEMPTS) {
					throw error;
				}

				await sleep(200 * attempt);
			}
		}
	} finally {
		if (!swapped && allowedBefore) {
			await client.query(`ALTER DATABASE ${live} WITH ALLOW_CONNECTIONS true`).catch(() => {});
		}
	}

	onEvent({type: 'backup:step', message: `renamed "${names.live}" to "${names.aside}" and "${names.restored}" to "${names.live}"`});
	const warnings: string[] = [];
	if (allowedBefore) {
		try {
			await client.query(`ALTER DATABASE ${quoteIdentifier(names.aside)} WITH ALLOW_CONNECTIONS true`);
		} catch (error) {
			warnings.push(`"${names.aside}" still refuses connections (${(error as Error).message}); run ALTER DATABASE ${quoteIdentifier(names.aside)} WITH ALLOW_CONNECTIONS true`);
		}
	}

	return {warnings};
}
