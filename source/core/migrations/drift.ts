import {diffCatalogSnapshots, type CatalogDifference} from './catalog-diff.js';
import type {CatalogSnapshot} from './catalog-snapshot.js';
import {snapshotLiveCatalog} from './catalog-tracking.js';
import {withMigrationSession} from './migration-session.js';
import {withoutRollingPartitions} from './partition-layout.js';
import type {MigrationSettings} from './migration-settings.js';

export type DriftProblem = {
	kind: 'drift';
	change: CatalogDifference['change'];
	objectType: CatalogDifference['objectType'];
	identity: string;
	message: string;
};

export type DriftResult = {
	ok: boolean;
	problems: DriftProblem[];
	/** When the snapshot compared against was taken, and after what; null when there is none. */
	snapshot: {kind: string; takenAt: string; version: number | null} | null;
};

/**
 * Compares the live catalog with the snapshot stored after the last apply or rollback and names
 * every difference: a column added by hand, an index dropped, a function body replaced. Range
 * partitions created or dropped at run time are not drift (see partition-layout.ts).
 */
export async function detectDrift(settings: MigrationSettings): Promise<DriftResult> {
	return withMigrationSession(settings, {lock: false}, async ({client, ledger}) => {
		const stored = await ledger.latestSnapshot<CatalogSnapshot>();
		if (!stored) {
			return {ok: true, problems: [], snapshot: null};
		}

		const differences = diffCatalogSnapshots(withoutRollingPartitions(stored.snapshot), withoutRollingPartitions(await snapshotLiveCatalog(client)));
		return {
			ok: differences.length === 0,
			problems: differences.map(difference => ({
				kind: 'drift' as const,
				change: difference.change,
				objectType: difference.objectType,
				identity: difference.identity,
				message: difference.message,
			})),
			snapshot: {kind: stored.kind, takenAt: stored.takenAt.toISOString(), version: stored.version},
		};
	});
}
