import {Text} from 'ink';
import {formatBytes} from '../../cli/progress-lines.js';
import type {DashboardSnapshot} from '../../core/console/dashboard-snapshot.js';
import type {RedisSample} from '../../core/sampler/redis-sample.js';
import {Gauge} from '../components/gauge.js';
import {formatAge, formatCount, formatPercent} from './format.js';
import {innerWidth, PanelFrame, type PanelContent} from './panel-frame.js';
import {freshness, sourceWithoutData, type PanelProps} from './panel-states.js';

/**
 * The Redis panel: clients against maxclients and memory against maxmemory as gauges, ops/s,
 * keyspace hit rate, evictions and the last save; role, nodes and uptime when there is room.
 */
export function redisPanelContent(snapshot: DashboardSnapshot, width: number): PanelContent {
	const sample = snapshot.redis;
	const empty = sourceWithoutData(snapshot, 'redis', sample, 'No Redis: pass --redis-url or set REDIS_URL.', width);
	if (empty || !sample) {
		return empty ?? {fixed: [], list: []};
	}

	const inner = innerWidth(width);
	const now = snapshot.takenAt.getTime();
	return {
		status: freshness(snapshot, 'redis'),
		fixed: [
			sample.clients.max === null ? (
				<Text>clients {sample.clients.connected} (maxclients not readable)</Text>
			) : (
				<Gauge label="clients" labelWidth={7} value={sample.clients.connected} max={sample.clients.max} width={inner} />
			),
			sample.memory.maxBytes > 0 ? (
				<Gauge label="memory" labelWidth={7} value={sample.memory.usedBytes} max={sample.memory.maxBytes} width={inner} format={formatBytes} />
			) : (
				<Text wrap="truncate-end">
					memory {formatBytes(sample.memory.usedBytes)} <Text color="gray">(no maxmemory)</Text>
				</Text>
			),
			<Text wrap="truncate-end">
				ops {formatCount(sample.ops.perSecond)}/s · keyspace hit {formatPercent(sample.keyspace.rate)}
			</Text>,
			<Text wrap="truncate-end">
				<Text color={(sample.evictions.perSecond ?? 0) > 0 ? 'yellow' : undefined}>
					evicted {formatCount(sample.evictions.total)}
					{sample.evictions.perSecond === null ? '' : ` (${formatCount(sample.evictions.perSecond)}/s)`}
				</Text>{' '}
				· <SaveState sample={sample} now={now} />
			</Text>,
		],
		list: [],
		extra: [
			<Text color="gray" wrap="truncate-end">
				{sample.role} · {sample.nodes} {sample.nodes === 1 ? 'node' : 'primaries'} · up {formatAge(sample.uptimeSeconds * 1000)} · policy {sample.memory.policy}
			</Text>,
		],
	};
}

export function RedisPanel({snapshot, width, height, focused, scroll}: PanelProps) {
	return <PanelFrame number={2} title="Redis" content={redisPanelContent(snapshot, width)} width={width} height={height} focused={focused} scroll={scroll} />;
}

function SaveState({sample, now}: {sample: RedisSample; now: number}) {
	const {persistence} = sample;
	if (persistence.lastBgsaveStatus === 'err') {
		return <Text color="red">bgsave failed</Text>;
	}

	return (
		<Text>
			saved {formatAge(now - persistence.lastSaveAt.getTime())} ago{persistence.bgsaveInProgress ? ' (saving)' : ''}
		</Text>
	);
}
