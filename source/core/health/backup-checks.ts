import {listBackups, type BackupCatalogue} from '../backup/backup-catalogue.js';
import type {BackupTarget} from '../backup/backup-target.js';
import {newestPassingDrill, type PassingDrill} from '../backup/restore-drills.js';
import {elapsedMs, type CheckFamily} from './guarded-check.js';
import type {HealthCheck} from './health-check-types.js';

/** The three checks that read the backup target: reachable, a fresh backup, a recent restore drill. */
export const BACKUP_CHECK_NAMES = ['backup-target', 'backup-age', 'restore-age'] as const;

/**
 * Checks the backup target with one listing (the catalogue `msdb backup list` shows): the target
 * answers; the newest backup finished within `maxBackupAgeMs`; and some backup passed a restore
 * drill (`backup verify --drill`) within `maxRestoreAgeMs` — a backup nobody has restored is a
 * hope, not a backup.
 */
export function backupChecks(target: BackupTarget, options: {maxBackupAgeMs: number; maxRestoreAgeMs: number; now?: () => Date}): CheckFamily {
	const flags = `--target ${target.display}`;
	return {
		async run() {
			const now = options.now?.() ?? new Date();
			const started = performance.now();
			const catalogue = await listBackups(target, {now});
			const latencyMs = elapsedMs(started);
			const drill = await newestPassingDrill(target, catalogue, {since: now.getTime() - options.maxRestoreAgeMs});
			return [
				{
					name: 'backup-target',
					status: 'pass',
					latencyMs,
					message: `${target.display}: ${catalogue.backups.length} backup(s)${catalogue.problems.length > 0 ? `, ${catalogue.problems.length} unreadable manifest or record(s) (msdb backup list)` : ''}`,
					details: {target: target.display, backups: catalogue.backups.length, incomplete: catalogue.incomplete.length, problems: catalogue.problems.length},
				},
				backupAge(catalogue, options.maxBackupAgeMs, flags),
				restoreAge(catalogue, drill, now.getTime(), options.maxRestoreAgeMs, flags),
			];
		},
		failed(failure) {
			return [
				{
					name: 'backup-target',
					status: 'fail',
					message: `${target.display}: ${failure.message}`,
					nextStep: failure.nextStep ?? `Check that ${target.display} is reachable with the credentials msdb runs with (\`msdb backup list ${flags}\`).`,
					details: {target: target.display},
				},
				// Unknown, not failed: the target's check names the cause once.
				{name: 'backup-age', status: 'skip', message: 'not checked: the backup target could not be read (see backup-target)'},
				{name: 'restore-age', status: 'skip', message: 'not checked: the backup target could not be read (see backup-target)'},
			];
		},
	};
}

/** The checks when no target is configured: nothing to check, said plainly. */
export function backupChecksSkipped(): HealthCheck[] {
	const message = 'no backup target configured (--target or MSDB_BACKUP_TARGET)';
	return BACKUP_CHECK_NAMES.map(name => ({name, status: 'skip' as const, message}));
}

function backupAge(catalogue: BackupCatalogue, maxAgeMs: number, flags: string): HealthCheck {
	const newest = catalogue.backups[0];
	if (!newest) {
		return {
			name: 'backup-age',
			status: 'fail',
			message: 'there is no backup in the target',
			nextStep: `Take one (\`msdb backup create ${flags}\`) and schedule it daily.`,
			details: {maxAgeMs},
		};
	}

	const details = {id: newest.id, finishedAt: newest.finishedAt, ageMs: newest.ageMs, maxAgeMs};
	if (newest.ageMs > maxAgeMs) {
		return {
			name: 'backup-age',
			status: 'fail',
			message: `the newest backup, ${newest.id}, finished ${formatDuration(newest.ageMs)} ago: older than ${formatDuration(maxAgeMs)} (--max-backup-age)`,
			nextStep: `Check that the scheduled backup job runs and succeeds; take one now with \`msdb backup create ${flags}\`.`,
			details,
		};
	}

	return {name: 'backup-age', status: 'pass', message: `newest backup ${newest.id} finished ${formatDuration(newest.ageMs)} ago`, details};
}

function restoreAge(catalogue: BackupCatalogue, drill: PassingDrill | undefined, now: number, maxAgeMs: number, flags: string): HealthCheck {
	const newest = catalogue.backups[0];
	const nextStep = newest
		? `Run a restore drill: \`msdb backup verify ${newest.id} --drill ${flags}\` (schedule one weekly).`
		: `Take a backup (\`msdb backup create ${flags}\`), then run \`msdb backup verify <id> --drill ${flags}\`.`;
	if (!drill) {
		return {
			name: 'restore-age',
			status: 'fail',
			message: `no backup passed a restore drill in the last ${formatDuration(maxAgeMs)} (--max-restore-age)`,
			nextStep,
			details: {maxAgeMs},
		};
	}

	const ageMs = now - Date.parse(drill.verifiedAt);
	return {
		name: 'restore-age',
		status: 'pass',
		message: `backup ${drill.backupId} passed a restore drill ${formatDuration(ageMs)} ago`,
		details: {id: drill.backupId, verifiedAt: drill.verifiedAt, ageMs, maxAgeMs},
	};
}

/** `26 h`, `3.5 d`, `12 min`: ages people compare with thresholds at a glance. */
export function formatDuration(ms: number): string {
	const minutes = ms / 60_000;
	if (minutes < 1) {
		return `${Math.max(0, Math.round(ms / 1000))} s`;
	}

	if (minutes < 120) {
		return `${Math.round(minutes)} min`;
	}

	const hours = minutes / 60;
	if (hours < 72) {
		return `${Math.round(hours)} h`;
	}

	return `${Math.round((hours / 24) * 10) / 10} d`;
}
