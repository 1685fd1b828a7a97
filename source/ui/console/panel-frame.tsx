import {Box, Text} from 'ink';
import type {ReactNode} from 'react';
import {truncate} from './format.js';

/**
 * What a panel shows, as lines: `fixed` always (the headline figures), then `list` scrolled by
 * j/k when focused, then `extra` only if room is left (details a small terminal can do without).
 * Every element is one terminal line: panels truncate, never wrap, so the grid never shifts.
 */
export type PanelContent = {
	/** Right side of the title line: freshness, or what the list is. */
	status?: string;
	fixed: ReactNode[];
	list: ReactNode[];
	extra?: ReactNode[];
};

/** Lines inside a frame of `height` (the title line and the bottom border take two). */
export function innerHeight(height: number): number {
	return Math.max(0, height - 2);
}

/** Characters inside a frame of `width` (two borders, one space of padding each side). */
export function innerWidth(width: number): number {
	return Math.max(0, width - 4);
}

/** How many list lines fit under the fixed lines. */
export function listRoom(content: PanelContent, height: number): number {
	return Math.max(0, innerHeight(height) - content.fixed.length);
}

/** The furthest the list can scroll (0 when it all fits). */
export function maxScroll(content: PanelContent, height: number): number {
	return Math.max(0, content.list.length - listRoom(content, height));
}

export type PanelFrameProps = {
	number: number;
	title: string;
	content: PanelContent;
	width: number;
	height: number;
	focused: boolean;
	/** First list line shown (clamped here too, so a stale offset never shows an empty list). */
	scroll: number;
};

/**
 * A rounded frame with the panel's number and title set into its top border (saving the line a
 * title inside would cost: at 80×24 every line counts), the focused panel's frame in cyan.
 */
export function PanelFrame({number, title, content, width, height, focused, scroll}: PanelFrameProps) {
	const colour = focused ? 'cyan' : 'gray';
	const room = listRoom(content, height);
	const offset = Math.min(Math.max(0, scroll), maxScroll(content, height));
	const shown = content.list.slice(offset, offset + room);
	const position = content.list.length > room && room > 0 ? ` ${offset + 1}–${offset + shown.length}/${content.list.length}` : '';
	const status = `${content.status ?? ''}${position}`.trim();
	const extra = (content.extra ?? []).slice(0, Math.max(0, room - shown.length));
	const name = ` ${number} ${title} `;
	const statusText = status === '' ? '' : ` ${truncate(status, Math.max(0, width - name.length - 6))} `;
	const rule = Math.max(0, width - 3 - name.length - statusText.length);
	const lines = [...content.fixed, ...shown, ...extra].slice(0, innerHeight(height));
	return (
		<Box flexDirection="column" width={width} height={height} flexShrink={0}>
			<Text color={colour} wrap="truncate-end">
				{'╭─'}
				<Text bold={focused} color={focused ? 'cyan' : 'white'}>
					{name}
				</Text>
				{'─'.repeat(rule)}
				<Text color="gray">{statusText}</Text>
				{'╮'}
			</Text>
			<Box
				borderStyle="round"
				borderTop={false}
				borderColor={colour}
				flexDirection="column"
				paddingX={1}
				height={Math.max(1, height - 1)}
				width={width}
				overflow="hidden"
			>
				{lines.map((line, index) => (
					// Lines are positional: the same index is the same row of the panel.
					<Box key={index} width={innerWidth(width)} height={1} overflow="hidden">
						{line}
					</Box>
				))}
			</Box>
		</Box>
	);
}
