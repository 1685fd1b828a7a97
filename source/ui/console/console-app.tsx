import {Box, useApp, useInput} from 'ink';
import {useRef, useState, type ComponentType} from 'react';
import type {DashboardFeed, DashboardSnapshot} from '../../core/console/dashboard-snapshot.js';
import {nextRefreshInterval} from '../../core/console/refresh-steps.js';
import {KeyFooter, type KeyHint} from '../components/key-footer.js';
import type {FlowContext, FlowOutcome} from '../flows/flow-context.js';
import {backupsPanelContent, BackupsPanel} from './backups-panel.js';
import {cachePanelContent, CachePanel} from './cache-panel.js';
import {consoleLayout, HEADER_HEIGHT, PANEL_IDS, panelBox, type ConsoleLayout, type PanelId, type TerminalSize} from './console-layout.js';
import {FLOWS, offeredFlows, type FlowEntry} from './flow-registry.js';
import {Header, type LastOutcome} from './header.js';
import {HelpOverlay} from './help-overlay.js';
import {migrationsPanelContent, MigrationsPanel} from './migrations-panel.js';
import {maxScroll, type PanelContent} from './panel-frame.js';
import type {PanelProps} from './panel-states.js';
import {postgresPanelContent, PostgresPanel} from './postgres-panel.js';
import {redisPanelContent, RedisPanel} from './redis-panel.js';
import {useDashboard} from './use-dashboard.js';
import {useTerminalSize} from './use-terminal-size.js';

export type ConsoleAppProps = {
	/** Where the data comes from: a started DashboardModel (the caller starts and stops it). */
	model: DashboardFeed;
	/** Handed to every guided flow. */
	flowContext: FlowContext;
	/** `--readonly`: no flow that changes a database is offered, and their keys do nothing. */
	readonly: boolean;
	/** A fixed size instead of the terminal's (tests). */
	size?: TerminalSize;
	/** Called when the person quits with `q`, before the app exits (ctrl-c exits through Ink). */
	onQuit?: () => void;
	/** The guided flows (default: the registry's). */
	flows?: readonly FlowEntry[];
};

type Mode = {kind: 'dashboard'} | {kind: 'help'} | {kind: 'flow'; flow: FlowEntry};

const PANELS: Record<PanelId, {component: ComponentType<PanelProps>; content: (snapshot: DashboardSnapshot, width: number) => PanelContent}> = {
	postgres: {component: PostgresPanel, content: postgresPanelContent},
	redis: {component: RedisPanel, content: redisPanelContent},
	cache: {component: CachePanel, content: cachePanelContent},
	migrations: {component: MigrationsPanel, content: migrationsPanelContent},
	backups: {component: BackupsPanel, content: backupsPanelContent},
};

/**
 * The interactive console: a header, the five panels (or the help, or a guided flow), and a
 * footer listing the keys that work now. Renders only: the data comes from `model`, the work of
 * the flows from core through the flow components.
 */
export function ConsoleApp({model, flowContext, readonly, size: fixedSize, onQuit, flows = FLOWS}: ConsoleAppProps) {
	const snapshot = useDashboard(model);
	const size = useTerminalSize(fixedSize);
	const {exit} = useApp();
	const [mode, setMode] = useState<Mode>({kind: 'dashboard'});
	const [focus, setFocus] = useState<PanelId>('postgres');
	const [scroll, setScroll] = useState<Record<PanelId, number>>({postgres: 0, redis: 0, cache: 0, migrations: 0, backups: 0});
	const [lastOutcome, setLastOutcome] = useState<LastOutcome>();
	const offered = offeredFlows(flows, readonly);

	// The footer's height depends on its keys, the list room on the layout: lay out once without
	// the scroll key, and again only if the focused panel turns out to scroll.
	const baseKeys = dashboardKeys(offered, snapshot.paused, false);
	let layout = consoleLayout(size, mode.kind === 'dashboard' ? baseKeys : modeKeys(mode));
	const focusedBox = panelBox(layout, focus);
	const focusedScroll = maxScroll(PANELS[focus].content(snapshot, focusedBox.width), focusedBox.height);
	const keys = mode.kind === 'dashboard' ? dashboardKeys(offered, snapshot.paused, focusedScroll > 0) : modeKeys(mode);
	if (mode.kind === 'dashboard' && focusedScroll > 0) {
		layout = consoleLayout(size, keys);
	}

	const quit = () => {
		onQuit?.();
		exit();
	};

	const scrollBy = (delta: number) => {
		const box = panelBox(layout, focus);
		const limit = maxScroll(PANELS[focus].content(snapshot, box.width), box.height);
		setScroll(previous => ({...previous, [focus]: Math.min(limit, Math.max(0, Math.min(previous[focus], limit) + delta))}));
	};

	useInput(
		(input, key) => {
			if (input === '?') {
				setMode({kind: 'help'});
			} else if (input === 'q') {
				quit();
			} else if (key.tab) {
				const index = PANEL_IDS.indexOf(focus);
				setFocus(PANEL_IDS[(index + (key.shift ? PANEL_IDS.length - 1 : 1)) % PANEL_IDS.length] ?? 'postgres');
			} else if (/^[1-5]$/.test(input)) {
				setFocus(PANEL_IDS[Number(input) - 1] ?? focus);
			} else if (input === 'j' || key.downArrow) {
				scrollBy(1);
			} else if (input === 'k' || key.upArrow) {
				scrollBy(-1);
			} else if (input === ' ') {
				if (snapshot.paused) {
					model.resume();
				} else {
					model.pause();
				}
			} else if (input === '+' || input === '=') {
				model.setInterval(nextRefreshInterval(snapshot.intervalMs, 'slower'));
			} else if (input === '-' || input === '_') {
				model.setInterval(nextRefreshInterval(snapshot.intervalMs, 'faster'));
			} else {
				const flow = offered.find(entry => entry.key === input);
				if (flow) {
					setMode({kind: 'flow', flow});
				}
			}
		},
		{isActive: mode.kind === 'dashboard'},
	);

	useInput(
		(input, key) => {
			if (key.escape || input === '?') {
				setMode({kind: 'dashboard'});
			} else if (input === 'q') {
				quit();
			}
		},
		{isActive: mode.kind === 'help'},
	);

	const onFlowExit = (flow: FlowEntry) => (outcome: FlowOutcome) => {
		setLastOutcome({flow: flow.label, outcome});
		setMode({kind: 'dashboard'});
		// The flow may have changed what the slow panels show; re-read them rather than wait 30–60 s.
		model.refreshNow();
	};

	return (
		<Box flexDirection="column" width={layout.width} height={HEADER_HEIGHT + layout.bodyHeight + layout.footerHeight}>
			<Header snapshot={snapshot} readonly={readonly} width={layout.width} lastOutcome={lastOutcome} />
			<Box height={layout.bodyHeight} width={layout.width} flexShrink={0}>
				{mode.kind === 'flow' ? (
					<FlowArea mode={mode} context={flowContext} layout={layout} onExit={onFlowExit(mode.flow)} />
				) : mode.kind === 'help' ? (
					<HelpOverlay width={layout.width} height={layout.bodyHeight} flows={offered} readonly={readonly} intervalMs={snapshot.intervalMs} />
				) : (
					<Dashboard snapshot={snapshot} layout={layout} focus={focus} scroll={scroll} />
				)}
			</Box>
			<Box height={layout.footerHeight} width={layout.width} overflow="hidden">
				<KeyFooter keys={keys} />
			</Box>
		</Box>
	);
}

function Dashboard({snapshot, layout, focus, scroll}: {snapshot: DashboardSnapshot; layout: ConsoleLayout; focus: PanelId; scroll: Record<PanelId, number>}) {
	return (
		<>
			{layout.columns.map(column => (
				<Box key={column.panels.map(panel => panel.id).join('+')} flexDirection="column" width={column.width} flexShrink={0}>
					{column.panels.map(panel => {
						const Panel = PANELS[panel.id].component;
						return <Panel key={panel.id} snapshot={snapshot} width={column.width} height={panel.height} focused={focus === panel.id} scroll={scroll[panel.id]} />;
					})}
				</Box>
			))}
		</>
	);
}

function FlowArea({mode, context, layout, onExit}: {mode: {kind: 'flow'; flow: FlowEntry}; context: FlowContext; layout: ConsoleLayout; onExit: (outcome: FlowOutcome) => void}) {
	const Flow = mode.flow.component;
	// Exactly once, whatever the flow does (the contract asks for it; a slip would refresh twice).
	const exited = useRef(false);
	const exitOnce = (outcome: FlowOutcome) => {
		if (!exited.current) {
			exited.current = true;
			onExit(outcome);
		}
	};

	return (
		<Box flexDirection="column" width={layout.width} height={layout.bodyHeight} overflow="hidden">
			<Flow context={context} onExit={exitOnce} width={layout.width} height={layout.bodyHeight} />
		</Box>
	);
}

/** The footer on the dashboard: only keys that do something now. */
function dashboardKeys(flows: readonly FlowEntry[], paused: boolean, scrollable: boolean): KeyHint[] {
	return [
		{key: '?', label: 'help'},
		{key: 'q', label: 'quit'},
		{key: 'tab', label: 'panel'},
		{key: '1-5', label: 'jump'},
		...(scrollable ? [{key: 'j/k', label: 'scroll'}] : []),
		{key: 'space', label: paused ? 'resume' : 'pause'},
		{key: '+/-', label: 'refresh'},
		...flows.map(flow => ({key: flow.key, label: flow.label})),
	];
}

function modeKeys(mode: Mode): KeyHint[] {
	return mode.kind === 'help'
		? [
				{key: 'esc', label: 'close'},
				{key: 'q', label: 'quit'},
			]
		: // A flow lists its own keys (esc among them); the console only promises the way out.
			[{key: 'ctrl-c', label: 'quit msdb'}];
}
