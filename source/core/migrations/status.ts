import {compareWithLedger} from './ledger-comparison.js';
import {withMigrationSession} from './migration-session.js';
import type {MigrationSettings} from './migration-settings.js';
import {readValidMigrationSource} from './migration-source.js';

export type MigrationStatus = {
	current: number | null;
	applied: Array<{version: number; name: string; checksum: string; appliedAt: string; executionTimeMs: number; appliedBy: string; method: 'apply' | 'baseline'}>;
	pending: Array<{version: number; name: string; checksum: string}>;
	/** Counts of what `validate` would report in detail; status stays a quick read. */
	warnings: {checksumMismatches: number[]; missingFiles: number[]; outOfOrder: number[]; missingRollbacks: number[]};
};

/** Applied, pending and the current version. Read-only: never creates the ledger. */
export async function migrationStatus(settings: MigrationSettings): Promise<MigrationStatus> {
	const source = await readValidMigrationSource(settings);
	return withMigrationSession(settings, {lock: false}, async ({ledger}) => {
		const comparison = compareWithLedger(source.migrations, await ledger.readApplied());
		const appliedVersions = new Set(comparison.applied.map(row => row.version));
		return {
			current: comparison.current,
			applied: comparison.applied.map(row => ({
				version: row.version,
				name: row.name,
				checksum: row.checksum,
				appliedAt: row.appliedAt.toISOString(),
				executionTimeMs: row.executionTimeMs,
				appliedBy: row.appliedBy,
				method: row.method,
			})),
			pending: comparison.pending.map(file => ({version: file.version, name: file.name, checksum: file.checksum})),
			warnings: {
				checksumMismatches: comparison.checksumMismatches.map(({file}) => file.version),
				missingFiles: comparison.missingFiles.map(row => row.version),
				outOfOrder: comparison.outOfOrder.map(file => file.version),
				missingRollbacks: [
					...source.migrations.filter(file => !file.rollback && !appliedVersions.has(file.version)).map(file => file.version),
					...comparison.applied.filter(row => row.rollbackSql === null).map(row => row.version),
				].sort((a, b) => a - b),
			},
		};
	});
}
