import type pg from 'pg';
import {throwIfCancelled} from '../cancellation.js';
import {backendPid, cancelBackend} from '../database/cancel-backend.js';
import {connectDatabase} from '../database/connect.js';
import {acquireMigrationLock} from './migration-lock.js';
import {MigrationLedger} from './migration-ledger.js';
import {ignoreEvents} from './migration-events.js';
import type {MigrationSettings} from './migration-settings.js';
import {storeCatalogSnapshot} from './catalog-tracking.js';

export type MigrationSession = {
	client: pg.Client;
	ledger: MigrationLedger;
};

/**
 * Connects, and for changing operations takes the migration lock and makes sure the ledger
 * exists (taking the baseline snapshot the first time, before any migration runs), unless
 * `createLedger` is false (reset must not create what it is about to drop). Always
 * releases the lock and closes the connection, whatever `work` does. When `settings.signal`
 * fires, the statement running on the server is cancelled, so the transaction rolls back now
 * rather than when the statement would have finished.
 */
export async function withMigrationSession<T>(
	settings: MigrationSettings,
	mode: {lock: boolean; createLedger?: boolean},
	work: (session: MigrationSession) => Promise<T>,
): Promise<T> {
	const onEvent = settings.onEvent ?? ignoreEvents;
	throwIfCancelled(settings.signal, 'Nothing was done.');
	const client = await connectDatabase(settings.database, {applicationName: 'msdb:migrate'});
	const pid = backendPid(client);
	const cancelRunningStatement = () => {
		if (pid !== undefined) {
			void cancelBackend(settings.database, pid);
		}
	};

	settings.signal?.addEventListener('abort', cancelRunningStatement, {once: true});
	try {
		const ledger = new MigrationLedger(client, settings.actor);
		if (!mode.lock) {
			return await work({client, ledger});
		}

		const lock = await acquireMigrationLock(client, {timeoutMs: settings.lockTimeoutMs, onEvent, signal: settings.signal});
		try {
			const created = mode.createLedger !== false && await ledger.ensure(async () => {
				await storeCatalogSnapshot(client, ledger, 'baseline', null);
			});
			if (created) {
				onEvent({type: 'ledger:created'});
			}

			return await work({client, ledger});
		} finally {
			await lock.release();
		}
	} finally {
		settings.signal?.removeEventListener('abort', cancelRunningStatement);
		await client.end().catch(() => {});
	}
}
