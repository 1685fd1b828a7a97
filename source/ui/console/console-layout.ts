import type {KeyHint} from '../components/key-footer.js';

/** The five panels, in the order of their number keys and of tab. */
export const PANEL_IDS = ['postgres', 'redis', 'cache', 'migrations', 'backups'] as const;
export type PanelId = (typeof PANEL_IDS)[number];

/** A terminal's size in character cells. */
export type TerminalSize = {columns: number; rows: number};

/** One column of panels. */
export type LayoutColumn = {width: number; panels: Array<{id: PanelId; height: number}>};

/** Where everything goes on the screen. */
export type ConsoleLayout = {
	/** Two columns below {@link WIDE_COLUMNS}, three from there. */
	columns: LayoutColumn[];
	/** Lines between the header and the footer (the panels, the help, or a flow). */
	bodyHeight: number;
	/** Lines the footer takes (its keys wrap on a narrow terminal). */
	footerHeight: number;
	width: number;
	wide: boolean;
};

/**
 * From this width the console lays out three columns (PostgreSQL gets one to itself). Below it,
 * two columns simply grow: from 120 columns each panel is 60 wide, enough for longer query
 * text, backup ids and the cache table's L3 loads; three columns earlier would make them narrower.
 */
export const WIDE_COLUMNS = 160;
/** The header's lines. */
export const HEADER_HEIGHT = 2;
/** The smallest screen laid out properly; below it panels are clipped (never wrapped). */
export const MIN_SIZE: TerminalSize = {columns: 80, rows: 24};

/**
 * Lays the console out for a terminal of `size` with the footer's `keys`. The frame is one line
 * shorter than the terminal: Ink clears the whole screen on every frame that fills it, which
 * flickers, and the spare line holds the cursor.
 */
export function consoleLayout(size: TerminalSize, keys: readonly KeyHint[]): ConsoleLayout {
	const width = Math.max(40, size.columns);
	const footerHeight = footerLines(keys, width);
	const bodyHeight = Math.max(8, size.rows - 1 - HEADER_HEIGHT - footerHeight);
	const wide = width >= WIDE_COLUMNS;
	if (wide) {
		const first = Math.floor(width * 0.4);
		const second = Math.floor(width * 0.3);
		const third = width - first - second;
		const redis = Math.min(7, Math.floor(bodyHeight / 2));
		const migrations = Math.floor(bodyHeight / 2);
		return {
			columns: [
				{width: first, panels: [{id: 'postgres', height: bodyHeight}]},
				{width: second, panels: [{id: 'redis', height: redis}, {id: 'cache', height: bodyHeight - redis}]},
				{width: third, panels: [{id: 'migrations', height: migrations}, {id: 'backups', height: bodyHeight - migrations}]},
			],
			bodyHeight,
			footerHeight,
			width,
			wide,
		};
	}

	const left = Math.floor(width / 2);
	const migrations = Math.max(5, Math.floor(bodyHeight * 0.4));
	const redis = bodyHeight >= 24 ? 7 : 6;
	const cache = Math.floor((bodyHeight - redis) / 2);
	return {
		columns: [
			{width: left, panels: [{id: 'postgres', height: bodyHeight - migrations}, {id: 'migrations', height: migrations}]},
			{width: width - left, panels: [{id: 'redis', height: redis}, {id: 'cache', height: cache}, {id: 'backups', height: bodyHeight - redis - cache}]},
		],
		bodyHeight,
		footerHeight,
		width,
		wide,
	};
}

/** The panel's box in `layout`. */
export function panelBox(layout: ConsoleLayout, id: PanelId): {width: number; height: number} {
	for (const column of layout.columns) {
		const panel = column.panels.find(candidate => candidate.id === id);
		if (panel) {
			return {width: column.width, height: panel.height};
		}
	}

	return {width: 0, height: 0};
}

/** Lines KeyFooter takes at `width`: its hints wrap like words, two spaces apart. */
export function footerLines(keys: readonly KeyHint[], width: number): number {
	let lines = 1;
	let used = 0;
	for (const hint of keys) {
		const length = hint.key.length + 1 + hint.label.length;
		if (used === 0) {
			used = length;
		} else if (used + 2 + length <= width) {
			used += 2 + length;
		} else {
			lines++;
			used = length;
		}
	}

	return lines;
}
