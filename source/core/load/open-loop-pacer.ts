/**
 * Paces operations at a target rate, open loop: operation n is due at start + n / rate whatever
 * the previous ones are doing, the way independent clients arrive at a real service. A closed
 * loop (start the next when one finishes) slows down with the server and so hides exactly the
 * latency a benchmark is after ("coordinated omission").
 *
 * Open loop alone would pile up unbounded promises against a slow server: so at most
 * `maxInFlight` operations run at once, and an operation that falls due while all slots are
 * taken is not started but counted as dropped. One started well after its due time (the event
 * loop stalled, a timer fired late) is counted as late. Both say "the generator did not deliver
 * the rate asked for", which a benchmark must report rather than hide.
 *
 * Rate 0 means "as fast as the in-flight bound allows": a closed loop with `maxInFlight` workers,
 * for finding the maximum throughput.
 */

/** How to pace. */
export type PacerOptions = {
	/** Operations per second; 0 = as fast as maxInFlight allows. */
	ratePerSecond: number;
	/** Most operations running at once. */
	maxInFlight: number;
	/** An operation started later than this after its due time counts as late (default 100 ms). */
	lateAfterMs?: number;
};

/** What pacing delivered. */
export type PacerCounts = {
	/** Operations started. */
	started: number;
	/** Operations due while all maxInFlight slots were taken: never started. */
	dropped: number;
	/** Operations started more than lateAfterMs after they were due. */
	late: number;
	/** Operations running now. */
	inFlight: number;
	/** The most that ran at once. */
	peakInFlight: number;
};

const DEFAULT_LATE_AFTER_MS = 100;

/**
 * Runs `operation` at the paced rate until `signal` aborts, then waits for the operations still
 * running and resolves with the counts. `operation` should not reject (count failures inside
 * it); a rejection is swallowed so one bad operation cannot stop the run.
 */
export class OpenLoopPacer {
	readonly #rate: number;
	readonly #maxInFlight: number;
	readonly #lateAfterMs: number;
	readonly #running = new Set<Promise<void>>();
	#started = 0;
	#dropped = 0;
	#late = 0;
	#peak = 0;

	constructor(options: PacerOptions) {
		if (!Number.isFinite(options.ratePerSecond) || options.ratePerSecond < 0) {
			throw new RangeError(`ratePerSecond must be a number ≥ 0, got ${String(options.ratePerSecond)}.`);
		}

		if (!Number.isSafeInteger(options.maxInFlight) || options.maxInFlight < 1) {
			throw new RangeError(`maxInFlight must be a whole number ≥ 1, got ${String(options.maxInFlight)}.`);
		}

		this.#rate = options.ratePerSecond;
		this.#maxInFlight = options.maxInFlight;
		this.#lateAfterMs = options.lateAfterMs ?? DEFAULT_LATE_AFTER_MS;
	}

	/** The counts so far (live while running). */
	counts(): PacerCounts {
		return {started: this.#started, dropped: this.#dropped, late: this.#late, inFlight: this.#running.size, peakInFlight: this.#peak};
	}

	/** Paces `operation` until `signal` aborts; resolves once the last one started has finished. */
	async run(operation: () => Promise<void>, signal: AbortSignal): Promise<PacerCounts> {
		if (this.#rate === 0) {
			await this.#closedLoop(operation, signal);
		} else {
			await this.#openLoop(operation, signal);
		}

		await Promise.all(this.#running);
		return this.counts();
	}

	async #openLoop(operation: () => Promise<void>, signal: AbortSignal): Promise<void> {
		const intervalMs = 1000 / this.#rate;
		const startedAt = performance.now();
		// Operations due so far, started or dropped: the schedule never waits for the server.
		let issued = 0;
		while (!signal.aborted) {
			const now = performance.now();
			const due = Math.floor((now - startedAt) / intervalMs) + 1;
			for (; issued < due; issued++) {
				if (this.#running.size >= this.#maxInFlight) {
					this.#dropped++;
					continue;
				}

				if (now - (startedAt + issued * intervalMs) > this.#lateAfterMs) {
					this.#late++;
				}

				this.#launch(operation);
			}

			await sleep(startedAt + issued * intervalMs - performance.now(), signal);
		}
	}

	async #closedLoop(operation: () => Promise<void>, signal: AbortSignal): Promise<void> {
		await new Promise<void>(resolve => {
			const fill = () => {
				if (signal.aborted) {
					resolve();
					return;
				}

				while (this.#running.size < this.#maxInFlight) {
					this.#launch(operation, fill);
				}
			};

			signal.addEventListener('abort', () => resolve(), {once: true});
			fill();
		});
	}

	#launch(operation: () => Promise<void>, then?: () => void): void {
		this.#started++;
		let running: Promise<void>;
		try {
			running = operation().catch(() => {});
		} catch {
			running = Promise.resolve();
		}

		const tracked = running.finally(() => {
			this.#running.delete(tracked);
			// A macrotask, not a microtask: an operation that settles at once (say, one that fails
			// synchronously) must not spin the closed loop without ever yielding to timers and I/O.
			if (then) {
				setImmediate(then);
			}
		});
		this.#running.add(tracked);
		if (this.#running.size > this.#peak) {
			this.#peak = this.#running.size;
		}
	}
}

/** Waits `ms` (at least 1), or until the signal aborts. */
async function sleep(ms: number, signal: AbortSignal): Promise<void> {
	if (signal.aborted) {
		return;
	}

	await new Promise<void>(resolve => {
		const done = () => {
			clearTimeout(timer);
			signal.removeEventListener('abort', done);
			resolve();
		};

		const timer = setTimeout(done, Math.max(1, ms));
		signal.addEventListener('abort', done, {once: true});
	});
}
