import {Box, Text, useInput} from 'ink';
import {useEffect, useRef, useState} from 'react';

/** One row of a {@link SelectList}. */
export type SelectListItem<T> = {
	/** Stable and unique within the list (React key). */
	key: string;
	label: string;
	value: T;
	/** Shown dimmed after the label: a time, a size, "no rollback". */
	hint?: string | undefined;
	/** Colour of the label, for rows that need to stand out (red for what will be undone). */
	color?: string | undefined;
};

/** Props of {@link SelectList}. */
export type SelectListProps<T> = {
	items: ReadonlyArray<SelectListItem<T>>;
	/** Rows shown at once, including the two "more" markers when they are needed (minimum 3). */
	height: number;
	onSelect?: ((item: SelectListItem<T>, index: number) => void) | undefined;
	/** Called whenever the highlighted row changes, and once for the first row, so a preview can follow. */
	onHighlight?: ((item: SelectListItem<T>, index: number) => void) | undefined;
	initialIndex?: number | undefined;
	/** False while another part of the screen owns the keys. */
	isActive?: boolean | undefined;
};

/**
 * A list taller than the screen: ↑/↓ or j/k move, pgup/pgdn jump a page, g/G go to the ends,
 * enter selects. Only `height` rows are drawn, with "↑ N more" / "↓ N more" markers, because a
 * list that overflows the terminal makes Ink redraw the whole screen on every key.
 * (@inkjs/ui's Select has no j/k and does not report the highlighted row, which previews need.)
 */
export function SelectList<T>({items, height, onSelect, onHighlight, initialIndex = 0, isActive = true}: SelectListProps<T>) {
	const [index, setIndex] = useState(() => clamp(initialIndex, items.length));
	const current = clamp(index, items.length);
	const page = Math.max(1, Math.max(3, height) - 2);

	// Fires when the highlighted row changes (by key and position), not on every render: parents
	// pass new arrays and arrow functions each time, so those are read through refs.
	const onHighlightRef = useRef(onHighlight);
	onHighlightRef.current = onHighlight;
	const item = items[current];
	const itemRef = useRef(item);
	itemRef.current = item;
	useEffect(() => {
		if (itemRef.current) {
			onHighlightRef.current?.(itemRef.current, current);
		}
	}, [item?.key, current]);

	useInput(
		(input, key) => {
			if (items.length === 0) {
				return;
			}

			// Functional updates: a held key sends presses faster than Ink re-renders, and each must count.
			const move = (by: number) => {
				setIndex(previous => clamp(clamp(previous, items.length) + by, items.length));
			};

			if (key.upArrow || input === 'k') {
				move(-1);
			} else if (key.downArrow || input === 'j') {
				move(1);
			} else if (key.pageUp) {
				move(-page);
			} else if (key.pageDown) {
				move(page);
			} else if (input === 'g' || key.home) {
				setIndex(0);
			} else if (input === 'G' || key.end) {
				setIndex(items.length - 1);
			} else if (key.return && item) {
				onSelect?.(item, current);
			}
		},
		{isActive},
	);

	if (items.length === 0) {
		return <Text color="gray">(empty)</Text>;
	}

	const {start, end} = visibleWindow(current, items.length, Math.max(3, height));
	return (
		<Box flexDirection="column">
			{start > 0 ? <Text color="gray">  ↑ {start} more</Text> : undefined}
			{items.slice(start, end).map((row, offset) => {
				const selected = start + offset === current;
				return (
					<Text key={row.key} wrap="truncate-end">
						<Text color="cyan">{selected ? '❯ ' : '  '}</Text>
						<Text color={row.color} bold={selected}>
							{row.label}
						</Text>
						{row.hint ? <Text color="gray">  {row.hint}</Text> : undefined}
					</Text>
				);
			})}
			{end < items.length ? <Text color="gray">  ↓ {items.length - end} more</Text> : undefined}
		</Box>
	);
}

function clamp(index: number, length: number): number {
	return Math.min(Math.max(index, 0), Math.max(length - 1, 0));
}

/**
 * The rows to draw so the highlighted one stays in view, within `height` lines including the
 * markers: a marker takes the place of a row, so the window never grows past the height.
 */
export function visibleWindow(current: number, length: number, height: number): {start: number; end: number} {
	if (length <= height) {
		return {start: 0, end: length};
	}

	// Room for rows once both markers may be shown; the cursor sits in the middle when it can.
	const rows = Math.max(1, height - 2);
	let start = Math.max(0, current - Math.floor(rows / 2));
	start = Math.min(start, length - rows);
	// At either end one marker is not needed, which frees a row.
	if (start === 0) {
		return {start: 0, end: height - 1};
	}

	if (start + rows >= length) {
		return {start: length - (height - 1), end: length};
	}

	return {start, end: start + rows};
}
