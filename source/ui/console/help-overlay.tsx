import {Box, Text} from 'ink';
import type {FlowEntry} from './flow-registry.js';
import {formatInterval} from './format.js';

export type HelpOverlayProps = {
	width: number;
	height: number;
	/** The flows on offer (none of the destructive ones with --readonly). */
	flows: readonly FlowEntry[];
	readonly: boolean;
	intervalMs: number;
};

/** Every key of the console with what it does (the `?` key); esc or `?` closes it. */
export function HelpOverlay({width, height, flows, readonly, intervalMs}: HelpOverlayProps) {
	const rows: Array<[string, string]> = [
		['?', 'show / close this help'],
		['q  ctrl-c', 'quit'],
		['tab  shift-tab', 'next / previous panel'],
		['1 – 5', 'PostgreSQL, Redis, Cache, Migrations, Backups'],
		['j k  ↓ ↑', "scroll the focused panel's list"],
		['space', 'pause / resume refreshing (paused: nothing is sent)'],
		['+  -', `refresh slower / faster (now ${formatInterval(intervalMs)})`],
		...flows.map((flow): [string, string] => [flow.key, `${flow.label}${flow.destructive ? '' : ' (reads the databases only)'}`]),
		['esc', 'back (out of a flow or this help)'],
	];
	const keyWidth = Math.max(...rows.map(([key]) => key.length)) + 2;
	return (
		<Box flexDirection="column" width={width} height={height} borderStyle="round" borderColor="cyan" paddingX={1} overflow="hidden">
			<Text bold>Keys</Text>
			{rows.map(([key, description]) => (
				<Text key={key} wrap="truncate-end">
					<Text color="cyan" bold>
						{key.padEnd(keyWidth)}
					</Text>
					{description}
				</Text>
			))}
			{readonly ? (
				<Text color="yellow" wrap="truncate-end">
					read-only (--readonly): migrate, roll back, restore and reset are off; back up stays, it changes no database.
				</Text>
			) : null}
		</Box>
	);
}
