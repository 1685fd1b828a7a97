import type {BackupCatalogue} from '../backup/backup-catalogue.js';
import {RECENT_BACKUPS_LISTED, type BackupsOverview} from './dashboard-snapshot.js';

/**
 * The backups panel's figures from one listing of the target: the newest backup, the newest
 * passing restore drill, and the recent backups without their manifests (the panel needs a few
 * fields, and a snapshot is kept for as long as the console runs).
 */
export function backupsOverview(catalogue: BackupCatalogue, target: string): BackupsOverview {
	const newest = catalogue.backups[0];
	let lastVerifiedRestore: BackupsOverview['lastVerifiedRestore'] = null;
	for (const backup of catalogue.backups) {
		const last = backup.lastVerification;
		if (last?.ok && last.drill && (!lastVerifiedRestore || Date.parse(last.verifiedAt) > Date.parse(lastVerifiedRestore.verifiedAt))) {
			lastVerifiedRestore = {backupId: backup.id, verifiedAt: last.verifiedAt};
		}
	}

	return {
		target,
		total: catalogue.backups.length,
		recent: catalogue.backups.slice(0, RECENT_BACKUPS_LISTED).map(backup => ({
			id: backup.id,
			finishedAt: backup.finishedAt,
			bytes: backup.bytes,
			components: backup.components,
			lastVerification: backup.lastVerification,
		})),
		lastBackup: newest ? {id: newest.id, finishedAt: newest.finishedAt} : null,
		lastVerifiedRestore,
		incomplete: catalogue.incomplete.length,
		problems: catalogue.problems.length,
	};
}
