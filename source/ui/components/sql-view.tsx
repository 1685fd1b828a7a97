import {Box, Text, useInput} from 'ink';
import {useState} from 'react';
import {redact} from '../../core/redact.js';

/** Props of {@link SqlView}. */
export type SqlViewProps = {
	sql: string;
	/** Lines of the box, including its title and the "more lines" markers (minimum 3). */
	height: number;
	/** Above the SQL: the file it came from, or "rollback of 5_users (stored at apply time)". */
	title?: string | undefined;
	/**
	 * When true, the box scrolls: ↑/↓ or j/k a line, pgup/pgdn or space/b a page, g/G the ends.
	 * When false it is a preview: the first lines and "… N more lines".
	 */
	scrollable?: boolean | undefined;
	/** False while another part of the screen owns the keys. */
	isActive?: boolean | undefined;
};

/**
 * SQL in a bounded box: a migration can be thousands of lines, and Ink redraws the whole screen
 * when output is taller than the terminal, so only `height` lines are ever drawn. Line numbers
 * match the file, which is what a failure's `file:line` points at.
 */
export function SqlView({sql, height, title, scrollable = false, isActive = true}: SqlViewProps) {
	// Tabs expanded: Ink measures a tab as one column while the terminal jumps to the next stop,
	// which breaks the layout (and Ink's diffing of frames).
	const lines = redact(sql.replace(/\n+$/, ''))
		.split('\n')
		.map(line => expandTabs(line));
	// Lines left for SQL once the title and the "more lines" marker below have theirs.
	const body = Math.max(1, Math.max(3, height) - (title ? 1 : 0) - 1);
	// Scrolled down, a line goes to the "above" marker, so the last page holds one line less.
	const maxTop = lines.length <= body ? 0 : lines.length - Math.max(1, body - 1);
	const [top, setTop] = useState(0);
	const first = scrollable ? Math.min(top, maxTop) : 0;
	const rows = first > 0 ? Math.max(1, body - 1) : body;
	// The same page size whether or not the "above" marker is shown, so paging is predictable.
	const page = Math.max(1, body - 1);

	useInput(
		(input, key) => {
			// Functional updates: a held key sends presses faster than Ink re-renders, and each must count.
			const move = (by: number) => {
				setTop(previous => Math.min(Math.max(Math.min(previous, maxTop) + by, 0), maxTop));
			};

			if (key.upArrow || input === 'k') {
				move(-1);
			} else if (key.downArrow || input === 'j') {
				move(1);
			} else if (key.pageUp || input === 'b') {
				move(-page);
			} else if (key.pageDown || input === ' ') {
				move(page);
			} else if (input === 'g' || key.home) {
				setTop(0);
			} else if (input === 'G' || key.end) {
				setTop(maxTop);
			}
		},
		{isActive: isActive && scrollable},
	);

	const shown = lines.slice(first, first + rows);
	const below = lines.length - first - shown.length;
	const numberWidth = String(lines.length).length;
	return (
		<Box flexDirection="column">
			{title ? (
				<Text color="gray" wrap="truncate-end">
					{title}
					{scrollable && lines.length > body ? `  (lines ${first + 1}–${first + shown.length} of ${lines.length})` : ''}
				</Text>
			) : undefined}
			{first > 0 ? (
				<Text color="gray">
					… {first} line{first === 1 ? '' : 's'} above
				</Text>
			) : undefined}
			{shown.map((line, offset) => {
				const number = first + offset + 1;
				return (
					<Text key={number} wrap="truncate-end">
						<Text color="gray">{String(number).padStart(numberWidth)} │ </Text>
						{line === '' ? ' ' : line}
					</Text>
				);
			})}
			{below > 0 ? (
				<Text color="gray">
					… {below} more line{below === 1 ? '' : 's'}
				</Text>
			) : undefined}
		</Box>
	);
}

/** Replaces tabs with spaces up to the next multiple of four columns. */
function expandTabs(line: string): string {
	let column = 0;
	let result = '';
	for (const character of line) {
		if (character === '\t') {
			const spaces = 4 - (column % 4);
			result += ' '.repeat(spaces);
			column += spaces;
		} else {
			result += character;
			column++;
		}
	}

	return result;
}
