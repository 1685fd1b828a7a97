import {Text} from 'ink';
import type {DashboardSnapshot} from '../../core/console/dashboard-snapshot.js';
import type {NamespaceHitRates} from '../../core/console/cache-hit-rates.js';
import type {FleetCacheTotals} from '../../core/fleet/fleet-reader.js';
import {fit, formatAge, formatCount, truncate} from './format.js';
import {innerWidth, PanelFrame, type PanelContent} from './panel-frame.js';
import {freshness, sourceWithoutData, type PanelProps} from './panel-states.js';

/** Inner width from which the table also shows L3 loads and the instance count. */
const WIDE_TABLE = 50;

/**
 * The cache panel, from the live instances' heartbeats: per namespace the L1 and L2 hit rates,
 * L3 (the loader: the share of loads that succeeded) and the L2 circuit breakers. The rates are
 * over the last heartbeat interval (the model compares each instance's two latest heartbeats);
 * a namespace for which that cannot be had yet (first reading, a process that just started)
 * shows its rates since the processes started, marked `*`. The first line says which.
 */
export function cachePanelContent(snapshot: DashboardSnapshot, width: number): PanelContent {
	const fleet = snapshot.fleet;
	const empty = sourceWithoutData(snapshot, 'fleet', fleet, 'No Redis for the fleet heartbeats: pass --redis-url or set REDIS_URL.', width);
	if (empty || !fleet) {
		return empty ?? {fixed: [], list: []};
	}

	if (fleet.instances.length === 0) {
		return {
			status: freshness(snapshot, 'fleet'),
			fixed: [<Text color="gray">no instances reporting</Text>],
			list: [],
			extra: [
				<Text color="gray" wrap="truncate-end">
					framework processes publish heartbeats to env {fleet.env}
				</Text>,
			],
		};
	}

	const inner = innerWidth(width);
	const wide = inner >= WIDE_TABLE;
	const {caches} = fleet.totals;
	const rates = new Map(fleet.cacheRates.map(rate => [rate.namespace, rate]));
	const open = caches.reduce((sum, cache) => sum + cache.l2.breakers.open, 0);
	const nameWidth = Math.max(6, inner - (wide ? 34 : 23));
	return {
		status: freshness(snapshot, 'fleet'),
		fixed: [
			<Text wrap="truncate-end">
				{fleet.instances.length} {fleet.instances.length === 1 ? 'instance' : 'instances'}
				{open > 0 ? <Text color="red"> · {open} breaker{open === 1 ? '' : 's'} open</Text> : undefined}
				{caches.length > 0 ? <Text color="gray"> · {windowNote(fleet.cacheRates)}</Text> : undefined}
			</Text>,
			caches.length === 0 ? (
				<Text color="gray">no caches in these instances</Text>
			) : (
				<Text color="gray" wrap="truncate-end">
					{fit('NAMESPACE', nameWidth)} {'L1'.padStart(4)} {'L2'.padStart(4)} {'L3ok'.padStart(4)}
					{wide ? ` ${'LOADS'.padStart(5)} ${'INST'.padStart(4)}` : ''} BREAKER
				</Text>
			),
		],
		list: caches.map(cache => <CacheRow cache={cache} rates={rates.get(cache.namespace)} nameWidth={nameWidth} wide={wide} />),
	};
}

/** `rates over 5 s`, `rates since start`, or both when the namespaces differ (`*` marks the lifetime ones). */
function windowNote(rates: readonly NamespaceHitRates[]): string {
	const interval = rates.filter(rate => rate.window === 'interval');
	const over = `rates over ${formatAge(Math.max(0, ...interval.map(rate => rate.windowMs ?? 0)))}`;
	if (interval.length === rates.length) {
		return over;
	}

	return interval.length === 0 ? '* rates since start' : `${over}, * since start`;
}

export function CachePanel({snapshot, width, height, focused, scroll}: PanelProps) {
	return <PanelFrame number={3} title="Cache" content={cachePanelContent(snapshot, width)} width={width} height={height} focused={focused} scroll={scroll} />;
}

function CacheRow({cache, rates, nameWidth, wide}: {cache: FleetCacheTotals; rates: NamespaceHitRates | undefined; nameWidth: number; wide: boolean}) {
	const lifetime = rates === undefined || rates.window === 'cumulative';
	const l3 = rates ? rates.l3 : cache.l3.loads === 0 ? null : (cache.l3.loads - cache.l3.loadErrors) / cache.l3.loads;
	return (
		<Text wrap="truncate-end">
			{fit(`${truncate(cache.namespace, nameWidth - 1)}${lifetime ? '*' : ''}`, nameWidth)} <Rate ratio={rates ? rates.l1 : cache.l1.hitRatio} /> <Rate ratio={rates ? rates.l2 : cache.l2.hitRatio} /> <Rate ratio={l3} warnBelow={0.99} />
			{wide ? ` ${formatCount(rates ? rates.loads : cache.l3.loads).padStart(5)} ${String(cache.instances).padStart(4)}` : ''} <Breakers cache={cache} />
		</Text>
	);
}
/** A hit rate in four characters, yellow below `warnBelow`. */
function Rate({ratio, warnBelow = 0.5}: {ratio: number | null; warnBelow?: number}) {
	const text = ratio === null ? '—' : `${Math.floor(ratio * 100)}%`;
	return <Text color={ratio !== null && ratio < warnBelow ? 'yellow' : undefined}>{text.padStart(4)}</Text>;
}

function Breakers({cache}: {cache: FleetCacheTotals}) {
	const {open, 'half-open': halfOpen} = cache.l2.breakers;
	if (open > 0) {
		return <Text color="red">open ×{open}</Text>;
	}

	if (halfOpen > 0) {
		return <Text color="yellow">half ×{halfOpen}</Text>;
	}

	return <Text color="green">closed</Text>;
}
