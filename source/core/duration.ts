/**
 * Durations in the one syntax msdb accepts everywhere (flags and file directives): a whole
 * number with a unit — ms, s, min, h, d — or a bare 0 meaning "no limit". The unit is required
 * because PostgreSQL reads a bare number as milliseconds and people read it as seconds.
 */

const DURATION = /^(\d+)\s*(ms|s|min|h|d)$/;
const UNIT_MS: Record<string, number> = {ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000};

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
	const trimmed = text.trim();
	if (trimmed === '0') {
		return 0;
	}

	const match = DURATION.exec(trimmed);
	if (!match) {
		return undefined;
	}

	return Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? Number.NaN);
}

/** The value to put in `SET lock_timeout = '…'` (PostgreSQL accepts the same units). */
export function postgresDuration(text: string): string {
	return text.trim().replace(/\s+/g, '');
}

export const DURATION_HINT = 'a number with a unit (500ms, 30s, 5min, 1h) or 0 for no limit';
