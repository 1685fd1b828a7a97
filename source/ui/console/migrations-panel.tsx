import {Text} from 'ink';
import type {DashboardSnapshot, MigrationsOverview} from '../../core/console/dashboard-snapshot.js';
import {redact} from '../../core/redact.js';
import {wrapText} from './format.js';
import {innerWidth, PanelFrame, type PanelContent} from './panel-frame.js';
import {ErrorLine, freshness, sourceWithoutData, type PanelProps} from './panel-states.js';

/**
 * The migrations panel: the current version, how many are applied and pending, whether the files
 * validate and the schema has drifted; the list holds the pending migrations, then every problem.
 */
export function migrationsPanelContent(snapshot: DashboardSnapshot, width: number): PanelContent {
	const overview = snapshot.migrations;
	const empty = sourceWithoutData(snapshot, 'migrations', overview, 'No database: pass --database-url or set DATABASE_URL.', width);
	if (empty || !overview) {
		return empty ?? {fixed: [], list: []};
	}

	const error = snapshot.errors.migrations;
	// A part that failed says why in full (wrapped): it is what the person has to fix.
	const partErrors = Object.entries(overview.errors).flatMap(([part, message]) =>
		wrapText(`✖ ${part}: ${redact(message)}`, innerWidth(width)).map(line => <Text color="red">{line}</Text>),
	);
	return {
		status: freshness(snapshot, 'migrations'),
		fixed: [
			...(error === undefined ? [] : [<ErrorLine message={error} />]),
			<StatusLine overview={overview} />,
			<ChecksLine overview={overview} />,
		],
		list: [
			...overview.pending.map(migration => (
				<Text wrap="truncate-end">
					<Text color="yellow">pending</Text> {migration.version} {migration.name}
				</Text>
			)),
			...partErrors,
			...(overview.validation?.problems ?? []).map(problem => (
				<Text color="red" wrap="truncate-end">
					! {problem.version === undefined ? '' : `${problem.version} `}
					{problem.kind}: {problem.message}
				</Text>
			)),
			...(overview.drift?.problems ?? []).map(problem => (
				<Text color="magenta" wrap="truncate-end">
					~ {problem.message}
				</Text>
			)),
		],
	};
}

export function MigrationsPanel({snapshot, width, height, focused, scroll}: PanelProps) {
	return <PanelFrame number={4} title="Migrations" content={migrationsPanelContent(snapshot, width)} width={width} height={height} focused={focused} scroll={scroll} />;
}

function StatusLine({overview}: {overview: MigrationsOverview}) {
	if (!overview.statusKnown) {
		return <Text color="red">status unknown (see below)</Text>;
	}

	const pending = overview.pending.length;
	return (
		<Text wrap="truncate-end">
			current <Text bold>{overview.current ?? '—'}</Text> · {overview.applied} applied ·{' '}
			<Text color={pending > 0 ? 'yellow' : 'green'}>{pending} pending</Text>
		</Text>
	);
}

function ChecksLine({overview}: {overview: MigrationsOverview}) {
	const {validation, drift} = overview;
	return (
		<Text wrap="truncate-end">
			validate{' '}
			{validation === null ? (
				<Text color="gray">—</Text>
			) : validation.ok ? (
				<Text color="green">✔ ok</Text>
			) : (
				<Text color="red">✖ {validation.problems.length} problem{validation.problems.length === 1 ? '' : 's'}</Text>
			)}{' '}
			· drift{' '}
			{drift === null ? (
				<Text color="gray">—</Text>
			) : drift.snapshotTakenAt === null ? (
				<Text color="gray">no snapshot</Text>
			) : drift.ok ? (
				<Text color="green">✔ none</Text>
			) : (
				<Text color="magenta">✖ {drift.problems.length} change{drift.problems.length === 1 ? '' : 's'}</Text>
			)}
		</Text>
	);
}
