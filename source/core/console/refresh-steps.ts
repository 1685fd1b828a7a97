/**
 * The refresh intervals the console's `+`/`-` keys step through. pg_activity goes from 0.5 s to
 * 5 s; the longer steps are for watching a busy production server from far away, where even a
 * light poll every 2 s is more than needed.
 */
export const REFRESH_STEPS_MS: readonly number[] = [500, 1000, 2000, 5000, 10_000, 30_000, 60_000];

/** Shortest and longest refresh `--refresh` accepts. */
export const MIN_REFRESH_MS = 250;
export const MAX_REFRESH_MS = 3_600_000;

/**
 * The next interval up (`+`: slower, as in pg_activity) or down (`-`: faster) from `currentMs`.
 * A value between steps (from `--refresh 3s`) moves to the neighbouring step; the ends stay put.
 */
export function nextRefreshInterval(currentMs: number, direction: 'slower' | 'faster'): number {
	if (direction === 'slower') {
		return REFRESH_STEPS_MS.find(step => step > currentMs) ?? Math.max(currentMs, REFRESH_STEPS_MS.at(-1) ?? currentMs);
	}

	return [...REFRESH_STEPS_MS].reverse().find(step => step < currentMs) ?? Math.min(currentMs, REFRESH_STEPS_MS[0] ?? currentMs);
}
