import {readVerificationRecords, type BackupCatalogue} from './backup-catalogue.js';
import type {BackupTarget} from './backup-target.js';

/** A passing restore drill (`msdb backup verify --drill`): which backup, and when. */
export type PassingDrill = {backupId: string; verifiedAt: string};

/**
 * What {@link newestPassingDrill} learnt of each backup's records, for the next call of a poller
 * (the console): a backup whose newest record is unchanged has no new record, so its records are
 * not read again. Keyed by backup id.
 */
export type DrillMemo = Map<string, {newestVerifiedAt: string; drill: PassingDrill | undefined}>;

export type NewestPassingDrillOptions = {
	/** Epoch ms: drills older than this do not count (`msdb health --max-restore-age`); default: any age. */
	since?: number;
	/** Records already read by an earlier call; updated, and pruned of backups no longer listed. */
	memo?: DrillMemo;
};

/**
 * The newest passing restore drill among every verification record of the catalogue's backups:
 * the one figure `msdb health`, `msdb metrics` and the console judge a target's restores by.
 *
 * The catalogue carries each backup's newest record only, and a backup whose newest record is a
 * later plain verify (or a failed one) may still hold a passing drill, so its records are read.
 * Backups are taken newest-verified first, and the walk stops at the first whose newest record is
 * no newer than the best drill found (or older than `since`): every record of that backup, and of
 * the ones after it, is older still. A target whose latest verification is a drill costs nothing
 * beyond the listing.
 */
export async function newestPassingDrill(target: BackupTarget, catalogue: BackupCatalogue, options: NewestPassingDrillOptions = {}): Promise<PassingDrill | undefined> {
	const since = options.since ?? Number.NEGATIVE_INFINITY;
	const {memo} = options;
	if (memo) {
		const listed = new Set(catalogue.backups.map(backup => backup.id));
		for (const id of memo.keys()) {
			if (!listed.has(id)) {
				memo.delete(id);
			}
		}
	}

	const candidates = catalogue.backups
		.flatMap(backup => (backup.lastVerification ? [{id: backup.id, last: backup.lastVerification, newest: Date.parse(backup.lastVerification.verifiedAt)}] : []))
		.sort((a, b) => b.newest - a.newest);
	let best: PassingDrill | undefined;
	for (const candidate of candidates) {
		if (candidate.newest < since || (best && candidate.newest <= Date.parse(best.verifiedAt))) {
			break;
		}

		if (candidate.last.ok && candidate.last.drill) {
			best = {backupId: candidate.id, verifiedAt: candidate.last.verifiedAt};
			continue;
		}

		const drill = await drillOf(target, candidate.id, candidate.last.verifiedAt, memo);
		if (drill && Date.parse(drill.verifiedAt) >= since && (!best || Date.parse(drill.verifiedAt) > Date.parse(best.verifiedAt))) {
			best = drill;
		}
	}

	return best;
}

/** The newest passing drill among one backup's records (read, or remembered while its newest record is unchanged). */
async function drillOf(target: BackupTarget, backupId: string, newestVerifiedAt: string, memo: DrillMemo | undefined): Promise<PassingDrill | undefined> {
	const known = memo?.get(backupId);
	if (known?.newestVerifiedAt === newestVerifiedAt) {
		return known.drill;
	}

	const {records} = await readVerificationRecords(target, backupId);
	const record = records.find(candidate => candidate.ok && candidate.drill);
	const drill = record ? {backupId, verifiedAt: record.verifiedAt} : undefined;
	memo?.set(backupId, {newestVerifiedAt, drill});
	return drill;
}
