/**
 * The polling model behind every live gauge (DESIGN.md: "a sampler object in core that polls on
 * an interval, never overlaps two polls, backs off on error, and emits snapshots; the UI
 * subscribes"). It knows nothing about PostgreSQL or Redis: `take` does the work.
 *
 * Why a setTimeout chain and not setInterval: the next poll is scheduled only once the previous
 * one has settled, so a server that answers slowly is never asked twice at once (which would pile
 * up exactly when it is already struggling), and an interval shorter than a poll simply means
 * "poll back to back".
 *
 * Backoff: after the n-th consecutive failure the next poll waits `intervalMs × 2^n`, capped at
 * `maxBackoffMs` (so 2×, 4×, 8× … the interval); one success returns to the plain interval.
 */
import {asMsdbError, BugError, type MsdbError} from '../errors.js';
import {notifyListeners} from './notify-listeners.js';

/** A successful poll and when it finished. */
export type TakenSample<T> = {sample: T; takenAt: Date};

/** What subscribers receive after every poll. */
export type SamplerEvent<T> =
	| {type: 'sample'; sample: T; takenAt: Date}
	/** The poll failed; the next one starts in `retryInMs` (unless paused or stopped). */
	| {type: 'error'; error: MsdbError; retryInMs: number; failedAt: Date};

/** Receives every {@link SamplerEvent}; see {@link Sampler.subscribe}. */
export type SamplerListener<T> = (event: SamplerEvent<T>) => void;

/** How a {@link Sampler} polls. */
export type SamplerOptions<T> = {
	/**
	 * Takes one sample. The signal fires when the sampler is stopped, so a take that can be
	 * cancelled (closing its connection) lets `stop()` return sooner.
	 */
	take: (signal: AbortSignal) => Promise<T>;
	/** Pause between the end of one poll and the start of the next (default 2000 ms). */
	intervalMs?: number;
	/** Longest wait after failures (default 30 000 ms, never less than the interval). */
	maxBackoffMs?: number;
	/** Clock for `takenAt` / `failedAt`; tests pass a fixed one. */
	now?: () => Date;
};

/** The console's refresh rate (pg_activity, k9s use the same). */
export const DEFAULT_SAMPLE_INTERVAL_MS = 2000;
/** Long enough to stop hammering a server that is down, short enough to notice it is back. */
export const DEFAULT_MAX_BACKOFF_MS = 30_000;

/** Polls `take` on an interval and tells subscribers what came back. */
export class Sampler<T> {
	readonly #take: (signal: AbortSignal) => Promise<T>;
	readonly #maxBackoffMs: number;
	readonly #now: () => Date;
	readonly #listeners = new Set<SamplerListener<T>>();
	#intervalMs: number;
	#running = false;
	#paused = false;
	#consecutiveErrors = 0;
	#timer: NodeJS.Timeout | undefined;
	/** performance.now() when the pending timer's wait began, so setInterval() can re-aim it. */
	#waitStartedAt = 0;
	#inFlight: Promise<void> | undefined;
	#abort: AbortController | undefined;
	#latest: TakenSample<T> | undefined;

	constructor(options: SamplerOptions<T>) {
		this.#take = options.take;
		this.#intervalMs = checkedInterval(options.intervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS);
		this.#maxBackoffMs = checkedInterval(options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS);
		this.#now = options.now ?? (() => new Date());
	}

	/** The last successful sample (kept through later errors), or undefined before the first. */
	get latest(): TakenSample<T> | undefined {
		return this.#latest;
	}

	/** The current pause between polls, ms. */
	get intervalMs(): number {
		return this.#intervalMs;
	}

	/** True between `start()` and `stop()`. */
	get running(): boolean {
		return this.#running;
	}

	/** True while paused (the console's space key). */
	get paused(): boolean {
		return this.#paused;
	}

	/** Starts polling; the first poll begins at once. Calling it again while running does nothing. */
	start(): void {
		if (this.#running) {
			return;
		}

		this.#running = true;
		this.#consecutiveErrors = 0;
		this.#abort = new AbortController();
		// A poll from before a stop() that was not awaited still runs; its end schedules the next.
		if (!this.#paused && !this.#inFlight) {
			this.#poll();
		}
	}

	/**
	 * Stops polling: no new poll starts, the one in flight is signalled to give up and awaited,
	 * and its result is not emitted. Afterwards `start()` may be called again.
	 */
	async stop(): Promise<void> {
		this.#running = false;
		this.#clearTimer();
		this.#abort?.abort();
		await this.#inFlight;
	}

	/** Stops scheduling polls until `resume()`; a poll in flight still finishes and is emitted. */
	pause(): void {
		this.#paused = true;
		this.#clearTimer();
	}

	/** Polls at once (unless one is in flight, which then schedules the next) and carries on. */
	resume(): void {
		if (!this.#paused) {
			return;
		}

		this.#paused = false;
		if (this.#running && !this.#inFlight) {
			this.#poll();
		}
	}

	/**
	 * Changes the interval (the console's `+`/`-`). A wait already under way is re-aimed: the
	 * next poll comes the new interval after the previous one ended, or at once if that is past.
	 */
	setInterval(intervalMs: number): void {
		this.#intervalMs = checkedInterval(intervalMs);
		if (this.#timer !== undefined) {
			const waited = performance.now() - this.#waitStartedAt;
			this.#clearTimer();
			this.#schedule(Math.max(0, this.#nextDelay() - waited), this.#waitStartedAt);
		}
	}

	/**
	 * Calls `listener` after every poll until the returned function is called. The current
	 * sample is not replayed: read `latest` for that. A listener that throws does not stop the
	 * sampler or the other listeners; its error is rethrown on its own so it is not lost.
	 */
	subscribe(listener: SamplerListener<T>): () => void {
		// Wrapped, so subscribing the same function twice gives two independent subscriptions.
		const entry: SamplerListener<T> = event => listener(event);
		this.#listeners.add(entry);
		return () => {
			this.#listeners.delete(entry);
		};
	}

	#poll(): void {
		const signal = this.#abort?.signal ?? AbortSignal.abort();
		this.#inFlight = this.#runPoll(signal).finally(() => {
			this.#inFlight = undefined;
			if (this.#running && !this.#paused) {
				this.#schedule(this.#nextDelay(), performance.now());
			}
		});
	}

	async #runPoll(signal: AbortSignal): Promise<void> {
		let outcome: {ok: true; sample: T} | {ok: false; error: unknown};
		try {
			outcome = {ok: true, sample: await this.#take(signal)};
		} catch (error) {
			outcome = {ok: false, error};
		}

		// A poll that outlived stop() belongs to nobody: its result is dropped whole, `latest` included.
		if (!this.#running || signal.aborted) {
			return;
		}

		let event: SamplerEvent<T>;
		if (outcome.ok) {
			this.#consecutiveErrors = 0;
			this.#latest = {sample: outcome.sample, takenAt: this.#now()};
			event = {type: 'sample', ...this.#latest};
		} else {
			this.#consecutiveErrors++;
			event = {type: 'error', error: asMsdbError(outcome.error), retryInMs: this.#nextDelay(), failedAt: this.#now()};
		}

		this.#emit(event);
	}

	#nextDelay(): number {
		if (this.#consecutiveErrors === 0) {
			return this.#intervalMs;
		}

		// The exponent is capped too, so a server down for days cannot overflow the multiplication.
		const backoff = this.#intervalMs * 2 ** Math.min(this.#consecutiveErrors, 30);
		return Math.min(backoff, Math.max(this.#maxBackoffMs, this.#intervalMs));
	}

	#schedule(delayMs: number, waitStartedAt: number): void {
		this.#waitStartedAt = waitStartedAt;
		this.#timer = setTimeout(() => {
			this.#timer = undefined;
			if (this.#running && !this.#paused && !this.#inFlight) {
				this.#poll();
			}
		}, delayMs);
		// A sampler alone must not keep a script (or a test worker) alive.
		this.#timer.unref();
	}

	#clearTimer(): void {
		clearTimeout(this.#timer);
		this.#timer = undefined;
	}

	#emit(event: SamplerEvent<T>): void {
		notifyListeners(this.#listeners, event);
	}
}

function checkedInterval(ms: number): number {
	if (!Number.isFinite(ms) || ms < 1) {
		throw new BugError(`A sampler interval must be a finite number of milliseconds ≥ 1, got ${ms}.`);
	}

	return ms;
}
