import {Text} from 'ink';
import type {DashboardSnapshot} from '../../core/console/dashboard-snapshot.js';
import type {PostgresSample} from '../../core/sampler/postgres-sample.js';
import {Gauge} from '../components/gauge.js';
import {formatCount, formatDuration, formatPercent, truncate} from './format.js';
import {innerWidth, PanelFrame, type PanelContent} from './panel-frame.js';
import {freshness, sourceWithoutData, type PanelProps} from './panel-states.js';

/** Pools name their connections `msdb:<role>` (source/core/pools); heartbeats give each role's max. */
const POOL_APPLICATION = /^msdb:([a-z]+)$/;

/**
 * The PostgreSQL panel: connections against max_connections, one gauge per application_name
 * (a pool's against the pool's own maximum when its instances report one), commits/s, buffer
 * cache hit ratio, the longest running statement, lock waits and replication.
 */
export function postgresPanelContent(snapshot: DashboardSnapshot, width: number): PanelContent {
	const sample = snapshot.postgres;
	const empty = sourceWithoutData(snapshot, 'postgres', sample, 'No database: pass --database-url or set DATABASE_URL.', width);
	if (empty || !sample) {
		return empty ?? {fixed: [], list: []};
	}

	const inner = innerWidth(width);
	const {connections} = sample;
	const labelWidth = Math.min(16, Math.max(8, ...sample.applications.map(application => displayName(application.applicationName).length)));
	return {
		status: freshness(snapshot, 'postgres'),
		fixed: [
			<Gauge label="connections" value={connections.total} max={sample.maxConnections} width={inner} />,
			<StatesLine sample={sample} />,
			<RatesLine sample={sample} />,
			<LongestQueryLine sample={sample} width={inner} />,
			<WaitsAndReplicationLine sample={sample} />,
		],
		list: sample.applications.map(application => {
			const pool = POOL_APPLICATION.exec(application.applicationName)?.[1];
			const poolMax = pool ? snapshot.fleet?.totals.pools.find(entry => entry.role === pool)?.max : undefined;
			return (
				<Gauge
					label={displayName(application.applicationName)}
					labelWidth={labelWidth}
					value={application.total}
					max={poolMax && poolMax > 0 ? poolMax : sample.maxConnections}
					width={inner}
				/>
			);
		}),
	};
}

export function PostgresPanel({snapshot, width, height, focused, scroll}: PanelProps) {
	return <PanelFrame number={1} title="PostgreSQL" content={postgresPanelContent(snapshot, width)} width={width} height={height} focused={focused} scroll={scroll} />;
}

function displayName(applicationName: string): string {
	return applicationName === '' ? '(unnamed)' : applicationName;
}

function StatesLine({sample}: {sample: PostgresSample}) {
	const {active, idle, idleInTransaction, idleInTransactionAborted, other} = sample.connections;
	const stuck = idleInTransaction + idleInTransactionAborted;
	return (
		<Text wrap="truncate-end">
			<Text color="green">active {active}</Text> · idle {idle} · <Text color={stuck > 0 ? 'yellow' : undefined}>idle in tx {stuck}</Text>
			{other > 0 ? ` · other ${other}` : ''}
		</Text>
	);
}

function RatesLine({sample}: {sample: PostgresSample}) {
	const ratio = sample.bufferCache.ratio;
	return (
		<Text wrap="truncate-end">
			commits {sample.transactions ? `${formatCount(sample.transactions.commitsPerSecond)}/s` : '—'} · cache hit{' '}
			<Text color={ratio === null ? undefined : ratio < 0.9 ? 'red' : ratio < 0.99 ? 'yellow' : 'green'}>{formatPercent(ratio)}</Text>
		</Text>
	);
}

function LongestQueryLine({sample, width}: {sample: PostgresSample; width: number}) {
	const query = sample.longestQuery;
	if (!query) {
		return <Text color="gray">longest query: none running</Text>;
	}

	const head = `longest ${formatDuration(query.durationMs)} `;
	return (
		<Text wrap="truncate-end">
			longest <Text color={query.durationMs > 60_000 ? 'red' : query.durationMs > 5000 ? 'yellow' : undefined}>{formatDuration(query.durationMs)}</Text>{' '}
			<Text color="gray">{truncate(query.query ?? `(pid ${query.pid}, query not visible)`, width - head.length)}</Text>
		</Text>
	);
}

function WaitsAndReplicationLine({sample}: {sample: PostgresSample}) {
	const waiting = sample.lockWaits.count;
	const blockers = [...new Set(sample.lockWaits.sessions.flatMap(session => session.blockedBy))].slice(0, 3);
	return (
		<Text wrap="truncate-end">
			<Text color={waiting > 0 ? 'red' : undefined}>waiting {waiting}</Text>
			{blockers.length > 0 ? <Text color="gray"> (by {blockers.join(', ')})</Text> : ''} · {replication(sample)}
		</Text>
	);
}

function replication(sample: PostgresSample): string {
	const {replication} = sample;
	if (replication.inRecovery) {
		return `standby lag ${replication.replayLagMs === null ? '—' : formatDuration(replication.replayLagMs)}`;
	}

	if (replication.replicas.length === 0) {
		return 'no replicas';
	}

	const lags = replication.replicas.map(replica => replica.replayLagMs).filter(lag => lag !== null);
	const worst = lags.length > 0 ? formatDuration(Math.max(...lags)) : '—';
	return `lag ${worst} ×${replication.replicas.length}`;
}
