import {Badge} from '@inkjs/ui';
import {Box, Text} from 'ink';
import type {DashboardSnapshot} from '../../core/console/dashboard-snapshot.js';
import {redact} from '../../core/redact.js';
import type {FlowOutcome} from '../flows/flow-context.js';
import {formatClock, formatInterval} from './format.js';

/** The last guided flow's outcome, shown until the next one. */
export type LastOutcome = {flow: string; outcome: FlowOutcome};

export type HeaderProps = {
	snapshot: DashboardSnapshot;
	readonly: boolean;
	width: number;
	lastOutcome?: LastOutcome | undefined;
};

const OUTCOME_COLOURS = {done: 'green', cancelled: 'gray', failed: 'red'} as const;
const OUTCOME_MARKS = {done: '✔', cancelled: '·', failed: '✖'} as const;

/**
 * Two lines: where the console looks (environment, PostgreSQL, Redis), then the READ-ONLY badge
 * (first, so a narrow terminal never cuts it off), the refresh interval, live or paused, the last
 * flow's outcome and the backup target.
 */
export function Header({snapshot, readonly, width, lastOutcome}: HeaderProps) {
	const {header} = snapshot;
	const postgres = header.postgres
		? `${header.postgres.host}${header.postgres.database ? `/${header.postgres.database}` : ''}${header.postgres.version ? ` ${shortVersion(header.postgres.version)}` : ''}`
		: 'not configured';
	const redis = header.redis ? `${header.redis.mode}${header.redis.version ? ` ${header.redis.version}` : ''}` : 'not configured';
	const separator = <Text color="gray"> │ </Text>;
	return (
		<Box flexDirection="column" width={width} height={2}>
			<Text wrap="truncate-end">
				<Text bold color="cyan">
					msdb
				</Text>{' '}
				env <Text bold>{header.environment}</Text>
				{separator}
				{width >= 100 ? 'PostgreSQL' : 'PG'} {redact(postgres)}
				{separator}
				Redis {redis}
			</Text>
			<Text wrap="truncate-end">
				{readonly ? (
					<>
						<Badge color="yellow">read-only</Badge>{' '}
					</>
				) : null}
				refresh <Text bold>{formatInterval(snapshot.intervalMs)}</Text> ·{' '}
				{snapshot.paused ? <Badge color="yellow">paused</Badge> : <Text color="green">● live</Text>}
				<Text color="gray"> {formatClock(snapshot.takenAt)}</Text>
				{lastOutcome ? (
					<>
						{separator}
						<Text color={OUTCOME_COLOURS[lastOutcome.outcome.status]}>
							{OUTCOME_MARKS[lastOutcome.outcome.status]} {lastOutcome.flow}: {redact(lastOutcome.outcome.summary)}
						</Text>
					</>
				) : null}
				{separator}
				backups {header.backupTarget === null ? <Text color="gray">none</Text> : redact(header.backupTarget)}
			</Text>
		</Box>
	);
}

/** `15.20 (Debian 15.20-0+deb12u1)` → `15.20`: the packager's suffix does not fit a header. */
function shortVersion(version: string): string {
	return version.split(' ')[0] ?? version;
}
