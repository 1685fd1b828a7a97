import {Text} from 'ink';
import type {DashboardSnapshot, DashboardSource} from '../../core/console/dashboard-snapshot.js';
import {redact} from '../../core/redact.js';
import {formatAge, wrapText} from './format.js';
import {innerWidth, type PanelContent} from './panel-frame.js';

/** What every panel receives. */
export type PanelProps = {
	snapshot: DashboardSnapshot;
	width: number;
	height: number;
	focused: boolean;
	scroll: number;
};

/** An error line: red, redacted (every string that reached a panel may hold a URL). */
export function ErrorLine({message}: {message: string}) {
	return (
		<Text color="red" wrap="truncate-end">
			✖ {redact(message)}
		</Text>
	);
}

/**
 * The panel of a source with nothing to show yet: not configured (and how to configure it), down
 * (its error, and that it retries), or waiting for the first answer. Undefined when there is data.
 */
export function sourceWithoutData(
	snapshot: DashboardSnapshot,
	source: DashboardSource,
	data: unknown,
	howToConfigure: string,
	width: number,
): PanelContent | undefined {
	const inner = innerWidth(width);
	if (!snapshot.configured[source]) {
		return {fixed: wrapText(howToConfigure, inner).map(line => <Text color="gray">{line}</Text>), list: []};
	}

	const error = snapshot.errors[source];
	if (data !== null && data !== undefined) {
		return undefined;
	}

	if (error !== undefined) {
		// The whole message matters here (it names the server and the reason): it gets the lines it needs.
		const lines = wrapText(`✖ ${redact(error)}`, inner);
		return {
			status: 'down',
			fixed: lines.map(line => <Text color="red">{line}</Text>),
			list: [],
			extra: [<Text color="gray">retrying with backoff…</Text>],
		};
	}

	return {status: 'waiting', fixed: [<Text color="gray">waiting for the first answer…</Text>], list: []};
}

/** `2 s ago` beside a panel's title: how fresh its data is. */
export function freshness(snapshot: DashboardSnapshot, source: DashboardSource): string | undefined {
	const at = snapshot.updatedAt[source];
	return at === undefined ? undefined : `${formatAge(snapshot.takenAt.getTime() - at.getTime())} ago`;
}
