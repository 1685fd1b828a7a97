/**
 * A circuit breaker in front of Redis (L2). Three states:
 *
 * - `closed`: calls go through. `failureThreshold` consecutive failures open it: one slow or
 *   failed call is normal network life and must not take L2 away from every caller (bentocache
 *   opens on the first error).
 * - `open`: calls are refused at once, so nothing waits on a server that is not answering. The
 *   open period is jittered (instances that saw the same outage do not all probe at the same
 *   instant) and doubles after each failed probe, up to `maxOpenMs`.
 * - `half-open`: after the open period, exactly one call goes through as a probe while the rest
 *   are still refused. Its success closes the breaker; its failure opens it again.
 *
 * Results of calls admitted in an earlier state are ignored once the state moved on: a call
 * that was already in flight when the breaker opened says nothing about the server now.
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

export type CircuitBreakerOptions = {
	/** Consecutive failures that open a closed breaker (≥ 1). */
	failureThreshold: number;
	/** First open period in ms, before jitter. */
	openMs: number;
	/** Upper bound of the doubling open period. */
	maxOpenMs: number;
	/** ± fraction applied to each open period (0.2 = 80 %–120 %). */
	jitter: number;
	onStateChange?: (state: BreakerState, previous: BreakerState) => void;
	now?: () => number;
	random?: () => number;
};

/**
 * What {@link CircuitBreaker.admit} hands out: pass it back with the outcome. `undefined` means
 * the call was refused.
 */
export type BreakerTicket = {readonly generation: number; readonly probe: boolean};

export type BreakerSnapshot = {
	state: BreakerState;
	consecutiveFailures: number;
	/** Times the breaker went from closed or half-open to open. */
	opens: number;
	/** Epoch ms when the current open period ends (only while open). */
	reopensAt: number | undefined;
	/** Epoch ms of the last change of state. */
	changedAt: number;
};

export class CircuitBreaker {
	#state: BreakerState = 'closed';
	// Bumped on every change of state, so tickets from an earlier state can be told apart.
	#generation = 0;
	#consecutiveFailures = 0;
	#failedProbes = 0;
	#opens = 0;
	#reopensAt = 0;
	#probeInFlight = false;
	#changedAt: number;
	readonly #options: CircuitBreakerOptions;
	readonly #now: () => number;
	readonly #random: () => number;

	constructor(options: CircuitBreakerOptions) {
		this.#options = options;
		this.#now = options.now ?? Date.now;
		this.#random = options.random ?? Math.random;
		this.#changedAt = this.#now();
	}

	/** The current state; an open breaker whose period is over still reads `open` until a call probes it. */
	get state(): BreakerState {
		return this.#state;
	}

	/** Admits a call (returns its ticket) or refuses it (returns undefined). */
	admit(): BreakerTicket | undefined {
		if (this.#state === 'closed') {
			return {generation: this.#generation, probe: false};
		}

		if (this.#state === 'open') {
			if (this.#now() < this.#reopensAt) {
				return undefined;
			}

			this.#transition('half-open');
		}

		if (this.#probeInFlight) {
			return undefined;
		}

		this.#probeInFlight = true;
		return {generation: this.#generation, probe: true};
	}

	/** Reports that an admitted call succeeded. */
	succeeded(ticket: BreakerTicket): void {
		if (ticket.generation !== this.#generation) {
			return;
		}

		if (ticket.probe) {
			this.#probeInFlight = false;
			this.#failedProbes = 0;
			this.#consecutiveFailures = 0;
			this.#transition('closed');
			return;
		}

		this.#consecutiveFailures = 0;
	}

	/** Reports that an admitted call failed (timed out, lost its connection …). */
	failed(ticket: BreakerTicket): void {
		if (ticket.generation !== this.#generation) {
			return;
		}

		if (ticket.probe) {
			this.#probeInFlight = false;
			this.#failedProbes++;
			this.#open();
			return;
		}

		this.#consecutiveFailures++;
		if (this.#consecutiveFailures >= this.#options.failureThreshold) {
			this.#open();
		}
	}

	/** A plain-data view for stats and health. */
	snapshot(): BreakerSnapshot {
		return {
			state: this.#state,
			consecutiveFailures: this.#consecutiveFailures,
			opens: this.#opens,
			reopensAt: this.#state === 'open' ? this.#reopensAt : undefined,
			changedAt: this.#changedAt,
		};
	}

	#open(): void {
		const {openMs, maxOpenMs, jitter} = this.#options;
		const base = Math.min(maxOpenMs, openMs * 2 ** Math.min(this.#failedProbes, 30));
		const factor = 1 - jitter + 2 * jitter * this.#random();
		this.#reopensAt = this.#now() + Math.max(1, Math.round(base * factor));
		this.#opens++;
		this.#transition('open');
	}

	#transition(state: BreakerState): void {
		if (state === this.#state) {
			return;
		}

		const previous = this.#state;
		this.#state = state;
		this.#generation++;
		this.#changedAt = this.#now();
		this.#options.onStateChange?.(state, previous);
	}
}
