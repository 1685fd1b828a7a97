import {Text} from 'ink';
import {formatBytes} from '../../cli/progress-lines.js';
import type {DashboardSnapshot, RecentBackup} from '../../core/console/dashboard-snapshot.js';
import {formatAge} from './format.js';
import {innerWidth, PanelFrame, type PanelContent} from './panel-frame.js';
import {ErrorLine, freshness, sourceWithoutData, type PanelProps} from './panel-states.js';

/** Older than this, the last backup shows yellow (`msdb health --max-backup-age`'s default). */
const BACKUP_AGE_WARN_MS = 26 * 3_600_000;
/** Older than this, the last verified restore shows yellow (`--max-restore-age`'s default). */
const RESTORE_AGE_WARN_MS = 8 * 86_400_000;

/**
 * The backups panel: how old the newest backup and the newest passing restore drill are, and the
 * recent backups with their size and verification.
 */
export function backupsPanelContent(snapshot: DashboardSnapshot, width: number): PanelContent {
	const overview = snapshot.backups;
	const empty = sourceWithoutData(snapshot, 'backups', overview, 'No backup target: pass --target or set MSDB_BACKUP_TARGET.', width);
	if (empty || !overview) {
		return empty ?? {fixed: [], list: []};
	}

	const now = snapshot.takenAt.getTime();
	const error = snapshot.errors.backups;
	const backupAge = overview.lastBackup ? now - Date.parse(overview.lastBackup.finishedAt) : null;
	const restoreAge = overview.lastVerifiedRestore ? now - Date.parse(overview.lastVerifiedRestore.verifiedAt) : null;
	const showIds = innerWidth(width) >= 46;
	return {
		status: freshness(snapshot, 'backups'),
		fixed: [
			...(error === undefined ? [] : [<ErrorLine message={error} />]),
			backupAge === null ? (
				<Text color="red">no backup yet</Text>
			) : (
				<Text wrap="truncate-end">
					last backup <Text color={backupAge > BACKUP_AGE_WARN_MS ? 'yellow' : 'green'}>{formatAge(backupAge)} ago</Text> · {overview.total} in target
				</Text>
			),
			restoreAge === null ? (
				<Text color="yellow">no verified restore (run a drill)</Text>
			) : (
				<Text wrap="truncate-end">
					verified restore <Text color={restoreAge > RESTORE_AGE_WARN_MS ? 'yellow' : 'green'}>{formatAge(restoreAge)} ago</Text>
				</Text>
			),
			...(overview.incomplete + overview.problems > 0
				? [
						<Text color="yellow" wrap="truncate-end">
							{overview.incomplete} unfinished · {overview.problems} invalid
						</Text>,
					]
				: []),
		],
		list: overview.recent.map(backup => <BackupRow backup={backup} now={now} showId={showIds} />),
	};
}

export function BackupsPanel({snapshot, width, height, focused, scroll}: PanelProps) {
	return <PanelFrame number={5} title="Backups" content={backupsPanelContent(snapshot, width)} width={width} height={height} focused={focused} scroll={scroll} />;
}

function BackupRow({backup, now, showId}: {backup: RecentBackup; now: number; showId: boolean}) {
	const verification = backup.lastVerification;
	return (
		<Text wrap="truncate-end">
			{verification === null ? (
				<Text color="gray">·</Text>
			) : verification.ok ? (
				<Text color="green">{verification.drill ? '✔' : '✓'}</Text>
			) : (
				<Text color="red">✖</Text>
			)}{' '}
			{formatAge(now - Date.parse(backup.finishedAt)).padStart(6)} {formatBytes(backup.bytes).padStart(9)} {backup.components.join('+')}
			<Text color="gray">{showId ? ` ${backup.id}` : ''}</Text>
		</Text>
	);
}
