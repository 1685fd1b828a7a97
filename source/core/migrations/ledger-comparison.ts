import type {MigrationFile} from './migration-source.js';
import type {AppliedMigration} from './migration-ledger.js';

/** How the files on disk and the ledger relate. */
export type LedgerComparison = {
	applied: AppliedMigration[];
	/** Files not in the ledger, ascending. */
	pending: MigrationFile[];
	/** Applied files whose content changed since they were applied. */
	checksumMismatches: Array<{file: MigrationFile; applied: AppliedMigration}>;
	/** Ledger rows whose file is gone (or renamed). */
	missingFiles: AppliedMigration[];
	/** Pending files older than the newest applied one (e.g. after a branch merge). */
	outOfOrder: MigrationFile[];
	/** Highest applied version, or null when nothing is applied. */
	current: number | null;
};

/** Compares the files with the ledger; pure, so status, validate and apply agree. */
export function compareWithLedger(migrations: MigrationFile[], applied: AppliedMigration[]): LedgerComparison {
	const filesByVersion = new Map(migrations.map(file => [file.version, file]));
	const appliedByVersion = new Map(applied.map(row => [row.version, row]));
	const current = applied.length > 0 ? Math.max(...applied.map(row => row.version)) : null;

	const checksumMismatches: LedgerComparison['checksumMismatches'] = [];
	const missingFiles: AppliedMigration[] = [];
	for (const row of applied) {
		const file = filesByVersion.get(row.version);
		if (!file || file.name !== row.name) {
			missingFiles.push(row);
		} else if (file.checksum !== row.checksum) {
			checksumMismatches.push({file, applied: row});
		}
	}

	const pending = migrations.filter(file => !appliedByVersion.has(file.version));
	const outOfOrder = current === null ? [] : pending.filter(file => file.version < current);
	return {applied, pending, checksumMismatches, missingFiles, outOfOrder, current};
}
