import {setTimeout as sleep} from 'node:timers/promises';

/** After consecutive failures a duty waits 1, 2, then at most this many intervals. */
export const MAX_BACKOFF_FACTOR = 4;

/**
 * How long a duty waits before its next run. The first retry comes at the next interval (a blip
 * should cost one interval, no more); a duty that keeps failing backs off (the database is down,
 * or the schema is missing: retrying at full speed only adds noise and load) but never by more
 * than MAX_BACKOFF_FACTOR intervals, so it resumes soon after the cause is fixed. ±10 % jitter
 * keeps several workers, started together by a deploy, from contending for a lock in lock-step.
 */
export function nextDelayMs(intervalMs: number, consecutiveFailures: number, random: () => number = Math.random): number {
	const factor = consecutiveFailures <= 1 ? 1 : Math.min(2 ** (consecutiveFailures - 1), MAX_BACKOFF_FACTOR);
	return Math.max(1, Math.round(intervalMs * factor * (0.9 + random() * 0.2)));
}

/** Waits `ms`, or less when `signal` fires; never rejects. */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
	if (signal.aborted) {
		return;
	}

	try {
		await sleep(ms, undefined, {signal});
	} catch {
		// Aborted: the worker is stopping, which is what the caller checks next.
	}
}
