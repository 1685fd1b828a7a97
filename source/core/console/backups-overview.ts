import type {BackupCatalogue} from '../backup/backup-catalogue.js';
import type {PassingDrill} from '../backup/restore-drills.js';
import {RECENT_BACKUPS_LISTED, type BackupsOverview} from './dashboard-snapshot.js';

/**
 * The backups panel's figures from one listing of the target and its newest passing restore
 * drill (`newestPassingDrill`, the one `msdb health` judges by): the newest backup, that drill,
 * and the recent backups without their manifests (the panel needs a few fields, and a snapshot
 * is kept for as long as the console runs).
 */
export function backupsOverview(catalogue: BackupCatalogue, target: string, lastVerifiedRestore: PassingDrill | undefined): BackupsOverview {
	const newest = catalogue.backups[0];
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
		lastVerifiedRestore: lastVerifiedRestore ?? null,
		incomplete: catalogue.incomplete.length,
		problems: catalogue.problems.length,
	};
}
