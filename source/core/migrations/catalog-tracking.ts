import type pg from 'pg';
import {takeCatalogSnapshot, type CatalogSnapshot} from './catalog-snapshot.js';
import {HISTORY_TABLE, LEDGER_TABLE, MSDB_OBJECT_PREFIX, SNAPSHOT_TABLE, type MigrationLedger, type SnapshotKind} from './migration-ledger.js';

/** msdb's own tables never count as schema: they change on every run. */
export const MSDB_TABLES = [LEDGER_TABLE, HISTORY_TABLE, SNAPSHOT_TABLE];

/** A snapshot of the live catalog, without msdb's own objects. */
export async function snapshotLiveCatalog(client: pg.ClientBase): Promise<CatalogSnapshot> {
	return takeCatalogSnapshot(client, {excludeTables: MSDB_TABLES, excludeNamePrefixes: [MSDB_OBJECT_PREFIX]});
}

/** Takes and stores a snapshot; returns how many objects it holds. */
export async function storeCatalogSnapshot(
	client: pg.ClientBase,
	ledger: MigrationLedger,
	kind: SnapshotKind,
	version: number | null,
): Promise<number> {
	const snapshot = await snapshotLiveCatalog(client);
	await ledger.storeSnapshot(kind, version, snapshot);
	return Object.keys(snapshot.objects).length;
}

/**
 * Runs the steps of an apply or rollback, then stores the snapshot drift will compare against
 * when any step changed the schema — also when a later step failed, since what did complete is
 * now the expected schema. On failure the snapshot is best effort: the step's error is what the
 * user needs to see, and a snapshot problem must not hide it.
 */
export async function snapshotAfterSteps(
	session: {client: pg.ClientBase; ledger: MigrationLedger; onEvent: (event: {type: 'snapshot:stored'; objects: number}) => void},
	kind: SnapshotKind,
	progress: {changed: () => boolean; version: () => number | null},
	steps: () => Promise<void>,
): Promise<void> {
	try {
		await steps();
	} catch (error) {
		if (progress.changed()) {
			await storeCatalogSnapshot(session.client, session.ledger, kind, progress.version()).catch(() => {});
		}

		throw error;
	}

	if (progress.changed()) {
		const objects = await storeCatalogSnapshot(session.client, session.ledger, kind, progress.version());
		session.onEvent({type: 'snapshot:stored', objects});
	}
}
