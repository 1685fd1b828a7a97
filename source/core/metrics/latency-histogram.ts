/**
 * A fixed-bucket latency histogram: recording is an array increment (cheap enough for every L2
 * round trip and every load), and the buckets are the ones the prom-client collector exports,
 * so the snapshot and Prometheus agree. Quantiles are estimated from the buckets (the upper
 * bound of the bucket holding the quantile), the way Prometheus' histogram_quantile does.
 */

/** Bucket upper bounds in ms; chosen around the 50 ms cache L2 deadline and typical query and command times. */
export const LATENCY_BUCKETS_MS: readonly number[] = [0.25, 0.5, 1, 2, 5, 10, 20, 50, 75, 100, 250, 500, 1000, 2500, 5000, 10_000];

export type LatencySummary = {
	count: number;
	/** Sum of all recorded latencies, ms. */
	sumMs: number;
	/** Estimated from the buckets; undefined until something was recorded. */
	p50Ms: number | undefined;
	p99Ms: number | undefined;
	maxMs: number | undefined;
	/** Cumulative counts per bound of {@link LATENCY_BUCKETS_MS} (recordings ≤ bound), for Prometheus. */
	buckets: number[];
};

export class LatencyHistogram {
	/** counts[i] = recordings ≤ LATENCY_BUCKETS_MS[i] and > the bound before; the last slot is +Inf. */
	readonly counts = new Float64Array(LATENCY_BUCKETS_MS.length + 1);
	count = 0;
	sumMs = 0;
	maxMs = 0;

	/** Adds one latency, in ms. */
	record(ms: number): void {
		let index = 0;
		while (index < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[index]!) {
			index++;
		}

		this.counts[index]!++;
		this.count++;
		this.sumMs += ms;
		if (ms > this.maxMs) {
			this.maxMs = ms;
		}
	}

	/** The estimated latency below which `quantile` (0–1) of recordings fall. */
	quantile(quantile: number): number | undefined {
		if (this.count === 0) {
			return undefined;
		}

		const rank = quantile * this.count;
		let seen = 0;
		for (let index = 0; index < this.counts.length; index++) {
			seen += this.counts[index]!;
			if (seen >= rank) {
				// The +Inf bucket has no bound; the maximum is the honest answer there.
				return round(Math.min(LATENCY_BUCKETS_MS[index] ?? this.maxMs, this.maxMs));
			}
		}

		return round(this.maxMs);
	}

	/** Plain data for stats(). */
	summary(): LatencySummary {
		return {
			count: this.count,
			sumMs: round(this.sumMs),
			p50Ms: this.quantile(0.5),
			p99Ms: this.quantile(0.99),
			maxMs: this.count === 0 ? undefined : round(this.maxMs),
			buckets: this.#cumulative(),
		};
	}

	#cumulative(): number[] {
		const buckets: number[] = [];
		let seen = 0;
		for (let index = 0; index < LATENCY_BUCKETS_MS.length; index++) {
			seen += this.counts[index]!;
			buckets.push(seen);
		}

		return buckets;
	}
}

function round(value: number): number {
	return Math.round(value * 1000) / 1000;
}
