/**
 * How long to wait before reconnect attempt `n`: exponential from `baseMs`, capped at `maxMs`,
 * with "equal jitter" (half the delay fixed, half random).
 *
 * Exponential so a long outage costs the server a handful of connection attempts per client,
 * not one every 50 ms; capped so a recovered server is found within `maxMs`; jittered so a
 * fleet of clients that lost the same server does not reconnect in lock-step and hit it with a
 * thundering herd the moment it comes back. The fixed half keeps a floor under the delay.
 */
export type ReconnectBackoffOptions = {
	/** The first delay's ceiling (default 50 ms). */
	baseMs?: number;
	/** The largest delay (default 2000 ms). */
	maxMs?: number;
	/** Source of randomness in [0, 1), replaceable for tests. */
	random?: () => number;
};

export const DEFAULT_RECONNECT_BASE_MS = 50;
export const DEFAULT_RECONNECT_MAX_MS = 2000;

/** An ioredis `retryStrategy` (attempt numbers start at 1) that never gives up. */
export function reconnectBackoff(options: ReconnectBackoffOptions = {}): (attempt: number) => number {
	const baseMs = Math.max(1, options.baseMs ?? DEFAULT_RECONNECT_BASE_MS);
	const maxMs = Math.max(baseMs, options.maxMs ?? DEFAULT_RECONNECT_MAX_MS);
	const random = options.random ?? Math.random;
	return attempt => {
		// The exponent is clamped so 2 ** n stays finite on a days-long outage.
		const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
		return Math.round(ceiling / 2 + (random() * ceiling) / 2);
	};
}
