import {LatencyHistogram} from '../metrics/latency-histogram.js';
import {redact} from '../redact.js';
import type {OperationSummary} from './load-summary.js';
import type {OperationKind, WorkloadMix} from './workload-mix.js';

/** Counters of one operation kind. */
class KindMeter {
	readonly latency = new LatencyHistogram();
	count = 0;
	errors = 0;
	idle = 0;
	lastError: string | undefined;
}

/** Counts per kind at one moment, for the windowed rates of the throughput line. */
export type MeterReading = {
	at: number;
	operations: number;
	errors: number;
	byKind: Map<OperationKind, number>;
};

/**
 * Counts and times the load's operations per kind. Recording is a few increments and one
 * histogram bucket, so the meter costs nothing next to a round trip.
 */
export class LoadMeter {
	readonly #mix: WorkloadMix;
	readonly #kinds = new Map<OperationKind, KindMeter>();

	constructor(mix: WorkloadMix) {
		this.#mix = mix.filter(share => share.weight > 0);
		for (const share of this.#mix) {
			this.#kinds.set(share.kind, new KindMeter());
		}
	}

	/** Records one operation that did its work (`idle`: found nothing to do). */
	done(kind: OperationKind, ms: number, idle = false): void {
		const meter = this.#meter(kind);
		meter.count++;
		meter.latency.record(ms);
		if (idle) {
			meter.idle++;
		}
	}

	/** Records one failed operation; returns its redacted message. */
	failed(kind: OperationKind, ms: number, error: unknown): string {
		const meter = this.#meter(kind);
		meter.count++;
		meter.errors++;
		meter.latency.record(ms);
		meter.lastError = redact(error instanceof Error ? error.message : String(error));
		return meter.lastError;
	}

	/** The counts now (for rates over a window). */
	reading(): MeterReading {
		let operations = 0;
		let errors = 0;
		const byKind = new Map<OperationKind, number>();
		for (const [kind, meter] of this.#kinds) {
			operations += meter.count;
			errors += meter.errors;
			byKind.set(kind, meter.count);
		}

		return {at: performance.now(), operations, errors, byKind};
	}

	/** Per kind, in mix order, with rates over `elapsedMs`. */
	summaries(elapsedMs: number): Partial<Record<OperationKind, OperationSummary>> {
		const seconds = elapsedMs / 1000;
		const summaries: Partial<Record<OperationKind, OperationSummary>> = {};
		for (const share of this.#mix) {
			const meter = this.#meter(share.kind);
			const latency = meter.latency.summary();
			summaries[share.kind] = {
				weight: share.weight,
				count: meter.count,
				errors: meter.errors,
				idle: meter.idle,
				opsPerSecond: seconds > 0 ? round(meter.count / seconds) : 0,
				p50Ms: latency.p50Ms ?? null,
				p99Ms: latency.p99Ms ?? null,
				maxMs: latency.maxMs ?? null,
				lastError: meter.lastError ?? null,
			};
		}

		return summaries;
	}

	#meter(kind: OperationKind): KindMeter {
		let meter = this.#kinds.get(kind);
		if (!meter) {
			meter = new KindMeter();
			this.#kinds.set(kind, meter);
		}

		return meter;
	}
}

/** Rounds to one decimal: rates are estimates, more digits would be noise. */
export function round(value: number): number {
	return Math.round(value * 10) / 10;
}
