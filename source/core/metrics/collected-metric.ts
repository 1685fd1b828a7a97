/**
 * Metric families whose values are read at scrape time from the objects they describe (a pool's
 * stats(), a cached reading of the migration ledger …), so the observed code's hot path pays
 * nothing for metrics. What cache-metrics.ts started, shared by every msdb collector.
 *
 * Several objects ("members") may share one set of families in one prom-client Registry (two
 * DatabasePools told apart by an `instance` label, every scrape source's `up` gauge): the
 * families are registered once per registry and each member adds its samples on every scrape.
 */
import type {Registry} from 'prom-client';
import {ActionableError} from '../errors.js';
import {LATENCY_BUCKETS_MS, type LatencySummary} from './latency-histogram.js';

/** One line of the exposition: a value with its labels, under the family's name unless `metricName` says otherwise (histogram parts). */
export type MetricSample = {labels: Record<string, string>; value: number; metricName?: string};

/** The Prometheus types msdb's collectors export. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** A family of series; `samples` is called once per member on every scrape. */
export type MetricFamily<M> = {
	name: string;
	help: string;
	type: MetricType;
	samples(member: M): MetricSample[] | Promise<MetricSample[]>;
};

/** `[extra labels, value]` pairs: how most families describe their series. */
export type LabelledValues = Array<[Record<string, string>, number]>;

/** The metric object prom-client's Registry calls at scrape time (the interface its own metrics implement). */
class CollectedMetric<M> {
	readonly name: string;
	readonly help: string;
	readonly type: MetricType;
	readonly aggregator = 'sum';
	readonly #family: MetricFamily<M>;
	readonly #members: Set<M>;

	constructor(family: MetricFamily<M>, members: Set<M>) {
		this.#family = family;
		this.#members = members;
		this.name = family.name;
		this.help = family.help;
		this.type = family.type;
	}

	/** Called by the registry on every scrape. */
	async get(): Promise<{name: string; help: string; type: string; aggregator: string; values: MetricSample[]}> {
		const parts = await Promise.all([...this.#members].map(async member => this.#family.samples(member)));
		return {name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: parts.flat()};
	}

	/** Registry#resetMetrics calls this; the counts belong to the observed objects, so there is nothing to reset. */
	reset(): void {}
}

// Keyed by the families array: each collector module passes its own constant array.
const registered = new WeakMap<Registry, Map<readonly unknown[], Set<unknown>>>();

/**
 * Adds `member` to the families in `registry`, registering the families on first use. Returns
 * the function that removes the member again (and the families, when it was the last one).
 */
export function registerMember<M>(registry: Registry, families: ReadonlyArray<MetricFamily<M>>, member: M): () => void {
	let groups = registered.get(registry);
	if (!groups) {
		groups = new Map();
		registered.set(registry, groups);
	}

	let members = groups.get(families) as Set<M> | undefined;
	if (!members) {
		const created = new Set<M>();
		members = created;
		groups.set(families, created);
		for (const family of families) {
			// prom-client types registerMetric for its own classes; its registry only calls get() and reset().
			registry.registerMetric(new CollectedMetric(family, created) as unknown as Parameters<Registry['registerMetric']>[0]);
		}
	}

	members.add(member);
	const owned = members;
	const owner = groups;
	return () => {
		owned.delete(member);
		if (owned.size === 0 && owner.get(families) === owned) {
			owner.delete(families);
			for (const family of families) {
				registry.removeSingleMetric(family.name);
			}
		}
	};
}

/** The members of `families` registered in `registry` now (to refuse duplicates before they collide). */
export function membersOf<M>(registry: Registry, families: ReadonlyArray<MetricFamily<M>>): M[] {
	return [...((registered.get(registry)?.get(families) as Set<M> | undefined) ?? [])];
}

/** A counter family from `[labels, value]` pairs, each merged over the member's own labels. */
export function counterFamily<M>(name: string, help: string, values: (member: M) => LabelledValues, labelsOf: (member: M) => Record<string, string>): MetricFamily<M> {
	return {
		name,
		help,
		type: 'counter',
		samples: member => {
			const base = labelsOf(member);
			return values(member).map(([extra, value]) => ({labels: {...base, ...extra}, value}));
		},
	};
}

/** A gauge family from `[labels, value]` pairs; see {@link counterFamily}. */
export function gaugeFamily<M>(name: string, help: string, values: (member: M) => LabelledValues, labelsOf: (member: M) => Record<string, string>): MetricFamily<M> {
	return {...counterFamily(name, help, values, labelsOf), type: 'gauge'};
}

/**
 * The samples of one Prometheus histogram series from a {@link LatencySummary}: cumulative
 * `_bucket`s at {@link LATENCY_BUCKETS_MS} (in seconds) and `+Inf`, `_sum` and `_count`.
 */
export function histogramSamples(name: string, labels: Record<string, string>, latency: LatencySummary): MetricSample[] {
	const samples: MetricSample[] = LATENCY_BUCKETS_MS.map((boundMs, index) => ({
		metricName: `${name}_bucket`,
		labels: {...labels, le: String(boundMs / 1000)},
		value: latency.buckets[index] ?? 0,
	}));
	samples.push(
		{metricName: `${name}_bucket`, labels: {...labels, le: '+Inf'}, value: latency.count},
		{metricName: `${name}_sum`, labels, value: latency.sumMs / 1000},
		{metricName: `${name}_count`, labels, value: latency.count},
	);
	return samples;
}

/**
 * Two members with the same label set would export the same series twice, which Prometheus
 * rejects for the whole scrape: said at registration, where the fix is obvious.
 */
export function refuseDuplicateInstance(members: ReadonlyArray<{labels: Record<string, string>}>, instance: string | undefined, caller: string): void {
	if (members.some(member => member.labels.instance === instance)) {
		throw new ActionableError(
			'E_CONFIG_INVALID',
			instance === undefined
				? `${caller}: this registry already has a source without an instance label; a second would export the same series twice.`
				: `${caller}: this registry already has a source with instance ${JSON.stringify(instance)}.`,
			{nextStep: `Give each source registered in one registry its own {instance: '…'}.`, details: {instance: instance ?? null}},
		);
	}
}
