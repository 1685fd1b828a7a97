import {Box, Text, useInput} from 'ink';
import {useState} from 'react';
import type {BackupCatalogue, BackupSummary} from '../../core/backup/backup-catalogue.js';
import {redact} from '../../core/redact.js';
import {formatAge} from '../../cli/definitions/backup-shared.js';
import {layoutTable} from '../../cli/output-blocks.js';
import {formatBytes} from '../../cli/progress-lines.js';

/** "✔ 3 min ago", "✖ failed 2 h ago (drill)", "never": what the newest verification said. */
export function describeVerification(backup: BackupSummary, now: number): string {
	const last = backup.lastVerification;
	if (!last) {
		return 'never';
	}

	const ago = `${formatAge(now - Date.parse(last.verifiedAt))} ago`;
	return `${last.ok ? `✔ ${ago}` : `✖ failed ${ago}`}${last.drill ? ' (drill)' : ''}`;
}

/**
 * The backups in the target, newest first, as a table with one focused row: id, age, size,
 * components and the last verification. ↑/↓ move, enter chooses; esc is the flow's.
 */
export function RestoreBackupList({catalogue, visibleRows, onChoose}: {catalogue: BackupCatalogue; visibleRows: number; onChoose: (backup: BackupSummary) => void}) {
	const [focused, setFocused] = useState(0);
	const {backups} = catalogue;
	useInput((_input, key) => {
		if (key.upArrow) {
			setFocused(previous => Math.max(0, previous - 1));
		} else if (key.downArrow) {
			setFocused(previous => Math.min(backups.length - 1, previous + 1));
		} else if (key.return) {
			const backup = backups[focused];
			if (backup) {
				onChoose(backup);
			}
		}
	});

	const now = Date.now();
	const [header = '', ...rows] = layoutTable(
		['ID', 'AGE', 'SIZE', 'COMPONENTS', 'VERIFIED'],
		backups.map(backup => [backup.id, formatAge(backup.ageMs), formatBytes(backup.bytes), backup.components.join(' + '), describeVerification(backup, now)]),
	);
	// The window follows the focused row, so a long list never pushes the footer off screen.
	const rowsShown = Math.max(1, visibleRows);
	const first = Math.min(Math.max(0, focused - rowsShown + 1), Math.max(0, backups.length - rowsShown));
	return (
		<Box flexDirection="column">
			<Text bold>{`  ${header}`}</Text>
			{rows.slice(first, first + rowsShown).map((row, offset) => {
				const index = first + offset;
				const backup = backups[index];
				const isFocused = index === focused;
				return (
					<Text key={backup?.id ?? index} color={isFocused ? 'cyan' : backup?.lastVerification?.ok === false ? 'yellow' : undefined} bold={isFocused}>
						{isFocused ? '› ' : '  '}
						{row}
					</Text>
				);
			})}
			{backups.length > rowsShown ? (
				<Text color="gray">
					{'  '}
					{focused + 1} of {backups.length}
				</Text>
			) : undefined}
			{catalogue.incomplete.length > 0 ? (
				<Text color="gray">
					{'  '}
					{catalogue.incomplete.length} folder(s) without a manifest (unfinished or failed runs) are not backups and are not listed.
				</Text>
			) : undefined}
			{catalogue.problems.map(problem => (
				<Text key={problem.key} color="yellow">
					{'  '}! {redact(problem.message)}
				</Text>
			))}
		</Box>
	);
}
