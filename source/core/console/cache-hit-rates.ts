import type {FleetReading} from '../fleet/fleet-reader.js';
import type {HeartbeatSnapshot} from '../fleet/heartbeat-snapshot.js';

/**
 * Which counters a namespace's rates come from:
 * - `interval`: the difference between each instance's two latest heartbeats, so the rates say
 *   how the cache does now;
 * - `cumulative`: the counters as published, since each process started. Used when some instance
 *   of the namespace has no earlier heartbeat to compare with (the console's first reading, a
 *   process that just started) or its counters went down (the cache was re-created).
 */
export type CacheRateWindow = 'interval' | 'cumulative';

/** One namespace's rates over the fleet, in one window. */
export type NamespaceHitRates = {
	namespace: string;
	window: CacheRateWindow;
	/**
	 * For `interval`: the longest time between the two heartbeats compared (instances publish on
	 * their own clocks and intervals), ms; null for `cumulative`.
	 */
	windowMs: number | null;
	/** hits / (hits + misses) of the window; null when it saw no read at that level. */
	l1: number | null;
	l2: number | null;
	/** Loads in the window, and the share of them that succeeded (null without loads). */
	loads: number;
	l3: number | null;
};

/** The counters behind the rates, summed over the caches of one namespace in one process. */
type CacheCounters = {l1Hits: number; l1Misses: number; l2Hits: number; l2Misses: number; loads: number; loadErrors: number};

type InstanceCounters = {publishedAt: number; caches: Map<string, CacheCounters>};

/** The two latest distinct heartbeats of one instance. */
type InstanceHistory = {latest: InstanceCounters; previous: InstanceCounters | undefined};

const COUNTER_KEYS = ['l1Hits', 'l1Misses', 'l2Hits', 'l2Misses', 'loads', 'loadErrors'] as const;

/**
 * Cache hit rates for the console from successive fleet readings. Heartbeats carry running
 * totals since each process started, so a ratio of them is a lifetime figure that hardly moves
 * on a long-running fleet; this keeps each instance's two latest heartbeats and rates the
 * difference. The console reads the fleet more often than processes publish (2 s against 5 s by
 * default): a reading that brings an instance's same heartbeat again keeps the pair it had, so
 * the rates cover the last heartbeat interval rather than flicker to "no reads".
 */
export class CacheHitRateTracker {
	readonly #instances = new Map<string, InstanceHistory>();

	/** The rates of every namespace in `reading`, in its order (by namespace); remembers the reading for the next call. */
	update(reading: FleetReading): NamespaceHitRates[] {
		const live = new Set<string>();
		for (const instance of reading.instances) {
			live.add(instance.instanceId);
			this.#remember(instance);
		}

		for (const id of this.#instances.keys()) {
			if (!live.has(id)) {
				this.#instances.delete(id);
			}
		}

		return reading.totals.caches.map(cache => this.#rates(cache.namespace, reading.instances));
	}

	#remember(instance: HeartbeatSnapshot): void {
		const publishedAt = Date.parse(instance.publishedAt);
		const known = this.#instances.get(instance.instanceId);
		if (known && known.latest.publishedAt === publishedAt) {
			return;
		}

		const latest = {publishedAt, caches: countersOf(instance)};
		this.#instances.set(instance.instanceId, {latest, previous: known && known.latest.publishedAt < publishedAt ? known.latest : undefined});
	}

	#rates(namespace: string, instances: readonly HeartbeatSnapshot[]): NamespaceHitRates {
		const interval = zeroCounters();
		const cumulative = zeroCounters();
		let comparable = true;
		let windowMs = 0;
		for (const instance of instances) {
			const history = this.#instances.get(instance.instanceId);
			const now = history?.latest.caches.get(namespace);
			if (!history || !now) {
				continue;
			}

			add(cumulative, now);
			const before = history.previous?.caches.get(namespace);
			if (!history.previous || !before || COUNTER_KEYS.some(key => now[key] < before[key])) {
				comparable = false;
				continue;
			}

			windowMs = Math.max(windowMs, history.latest.publishedAt - history.previous.publishedAt);
			for (const key of COUNTER_KEYS) {
				interval[key] += now[key] - before[key];
			}
		}

		const counters = comparable ? interval : cumulative;
		return {
			namespace,
			window: comparable ? 'interval' : 'cumulative',
			windowMs: comparable ? windowMs : null,
			l1: ratio(counters.l1Hits, counters.l1Hits + counters.l1Misses),
			l2: ratio(counters.l2Hits, counters.l2Hits + counters.l2Misses),
			loads: counters.loads,
			l3: ratio(counters.loads - counters.loadErrors, counters.loads),
		};
	}
}

function countersOf(instance: HeartbeatSnapshot): Map<string, CacheCounters> {
	const caches = new Map<string, CacheCounters>();
	for (const cache of instance.caches) {
		const sum = caches.get(cache.namespace) ?? zeroCounters();
		add(sum, {l1Hits: cache.l1.hits, l1Misses: cache.l1.misses, l2Hits: cache.l2.hits, l2Misses: cache.l2.misses, loads: cache.l3.loads, loadErrors: cache.l3.loadErrors});
		caches.set(cache.namespace, sum);
	}

	return caches;
}

function zeroCounters(): CacheCounters {
	return {l1Hits: 0, l1Misses: 0, l2Hits: 0, l2Misses: 0, loads: 0, loadErrors: 0};
}

function add(sum: CacheCounters, counters: CacheCounters): void {
	for (const key of COUNTER_KEYS) {
		sum[key] += counters[key];
	}
}

function ratio(part: number, whole: number): number | null {
	return whole > 0 ? part / whole : null;
}
