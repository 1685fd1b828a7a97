/**
 * A reading that takes a round trip (the migration ledger, a backup listing, the fleet's
 * heartbeats), made at scrape time but shielded from the scraper:
 *
 * - reused for `maxAgeMs`, so a scrape every 15 s plus a health probe every 5 s do not hammer the
 *   database or list an S3 bucket each time (ages derived from a reading are computed at scrape
 *   time, so they stay exact between reads);
 * - one read at a time: concurrent scrapes and probes join the read under way;
 * - time-boxed: a read that has no answer within `timeoutMs` is abandoned (told to stop through its
 *   signal) and counts as failed, so a hanging server cannot hang the scrape;
 * - a failure keeps the last good value, which the collectors go on exporting, while the source's
 *   `msdb_scrape_source_up` says 0: dashboards keep their lines, alerts see the outage. A failed
 *   source is asked again after at most {@link RETRY_AFTER_MS}, not on every scrape.
 *
 * Families for every source (labelled source):
 *   msdb_scrape_source_up                                   gauge: 1 when the last read succeeded
 *   msdb_scrape_source_duration_seconds                     gauge: how long the last read took
 *   msdb_scrape_source_last_success_timestamp_seconds       gauge: when the values exported were read (no sample before the first success)
 */
import type {Registry} from 'prom-client';
import {redact} from '../redact.js';
import {registerMember, type MetricFamily} from './collected-metric.js';

/** A failed read is retried after at most this long, however long good readings are reused. */
export const RETRY_AFTER_MS = 5000;

/** How long readings live and how long a read may take. */
export type ScrapeSourceOptions = {
	/** A good reading is reused this long (default 30 s). */
	maxAgeMs?: number;
	/** A read with no answer within this fails (default 5 s: well inside Prometheus' default 10 s scrape timeout). */
	timeoutMs?: number;
	/** Told when the source goes down or comes back (not on every read). */
	onChange?: (reading: SourceReading<unknown>, name: string) => void;
};

/** What a source knows now. */
export type SourceReading<T> = {
	/** The last good value (possibly from before a failure); undefined until the first success. */
	value: T | undefined;
	/** The last read succeeded. */
	up: boolean;
	/** Why the last read failed (redacted); undefined while up. */
	error: string | undefined;
	/** Epoch ms when `value` was read. */
	readAt: number | undefined;
	/** How long the last read took, ms. */
	durationMs: number | undefined;
};

/** Default for {@link ScrapeSourceOptions.maxAgeMs}. */
export const DEFAULT_SOURCE_MAX_AGE_MS = 30_000;
/** Default for {@link ScrapeSourceOptions.timeoutMs}. */
export const DEFAULT_SOURCE_TIMEOUT_MS = 5000;

/** One cached, time-boxed reading; see the file comment. */
export class ScrapeSource<T> {
	/** The `source` label: `migrations`, `backups`, `fleet` … */
	readonly name: string;
	readonly #load: (signal: AbortSignal) => Promise<T>;
	readonly #maxAgeMs: number;
	readonly #timeoutMs: number;
	readonly #onChange: ScrapeSourceOptions['onChange'];
	#reading: SourceReading<T> = {value: undefined, up: false, error: 'not read yet', readAt: undefined, durationMs: undefined};
	#attemptedAt: number | undefined;
	#inFlight: Promise<void> | undefined;

	constructor(name: string, load: (signal: AbortSignal) => Promise<T>, options: ScrapeSourceOptions = {}) {
		this.name = name;
		this.#load = load;
		this.#maxAgeMs = options.maxAgeMs ?? DEFAULT_SOURCE_MAX_AGE_MS;
		this.#timeoutMs = options.timeoutMs ?? DEFAULT_SOURCE_TIMEOUT_MS;
		this.#onChange = options.onChange;
	}

	/** The reading, refreshed first when it is older than allowed (waiting at most `timeoutMs`). */
	async read(): Promise<SourceReading<T>> {
		const reuseMs = this.#reading.up ? this.#maxAgeMs : Math.min(this.#maxAgeMs, RETRY_AFTER_MS);
		if (this.#attemptedAt === undefined || Date.now() - this.#attemptedAt >= reuseMs) {
			this.#inFlight ??= this.#refresh().finally(() => {
				this.#inFlight = undefined;
			});
		}

		await this.#inFlight;
		return this.#reading;
	}

	/** The reading as it is, without reading (what a failure left, or undefined values before the first read). */
	peek(): SourceReading<T> {
		return this.#reading;
	}

	async #refresh(): Promise<void> {
		const controller = new AbortController();
		const started = performance.now();
		let timer: NodeJS.Timeout | undefined;
		const deadline = new Promise<'timeout'>(resolve => {
			timer = setTimeout(() => resolve('timeout'), this.#timeoutMs);
		});
		const work = this.#load(controller.signal);
		// After the deadline the read is abandoned; its late rejection has been reported as the timeout.
		work.catch(() => {});
		const wasUp = this.#reading.up;
		const previous = this.#reading;
		try {
			const outcome = await Promise.race([work.then(value => ({value})), deadline]);
			const durationMs = performance.now() - started;
			if (outcome === 'timeout') {
				controller.abort();
				this.#reading = {...previous, up: false, error: `no answer within ${this.#timeoutMs} ms`, durationMs};
			} else {
				this.#reading = {value: outcome.value, up: true, error: undefined, readAt: Date.now(), durationMs};
			}
		} catch (error) {
			this.#reading = {...previous, up: false, error: redact(error instanceof Error ? error.message : String(error)), durationMs: performance.now() - started};
		} finally {
			clearTimeout(timer);
			this.#attemptedAt = Date.now();
		}

		// The first failure counts as a change too: "not read yet" is not a state anyone was told about.
		if (this.#reading.up !== wasUp || (previous.error === 'not read yet' && !this.#reading.up)) {
			try {
				this.#onChange?.(this.#reading, this.name);
			} catch {
				// A throwing listener must not turn a reading into a failed scrape.
			}
		}
	}
}

const SOURCE_FAMILIES: ReadonlyArray<MetricFamily<ScrapeSource<unknown>>> = [
	{
		name: 'msdb_scrape_source_up',
		help: '1 when the last read of the source succeeded; 0 while its metrics show the last good values (or none)',
		type: 'gauge',
		samples: async source => [{labels: {source: source.name}, value: (await source.read()).up ? 1 : 0}],
	},
	{
		name: 'msdb_scrape_source_duration_seconds',
		help: 'How long the last read of the source took',
		type: 'gauge',
		samples: async source => {
			const {durationMs} = await source.read();
			return durationMs === undefined ? [] : [{labels: {source: source.name}, value: durationMs / 1000}];
		},
	},
	{
		name: 'msdb_scrape_source_last_success_timestamp_seconds',
		help: 'When the values exported for the source were read (Unix time)',
		type: 'gauge',
		samples: async source => {
			const {readAt} = await source.read();
			return readAt === undefined ? [] : [{labels: {source: source.name}, value: readAt / 1000}];
		},
	},
];

/** Registers the source's `msdb_scrape_source_*` series in `registry`; returns the function that removes them. */
export function registerScrapeSource(source: ScrapeSource<unknown>, registry: Registry): () => void {
	return registerMember(registry, SOURCE_FAMILIES, source);
}
