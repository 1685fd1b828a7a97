/**
 * Number and time formats of the console's panels: short, fixed-ish widths, so a column of them
 * lines up in a 36-character panel.
 */

/** `12 s`, `5 min`, `3 h`, `2 d`: how long ago, to the unit a person compares at a glance. */
export function formatAge(ms: number): string {
	const seconds = Math.max(0, ms) / 1000;
	if (seconds < 90) {
		return `${Math.round(seconds)} s`;
	}

	const minutes = seconds / 60;
	if (minutes < 90) {
		return `${Math.round(minutes)} min`;
	}

	const hours = minutes / 60;
	return hours < 48 ? `${Math.round(hours)} h` : `${Math.round(hours / 24)} d`;
}

/** `850 ms`, `3.2 s`, `4 min`: how long something has been running. */
export function formatDuration(ms: number): string {
	if (ms < 1000) {
		return `${Math.round(ms)} ms`;
	}

	return ms < 90_000 ? `${(ms / 1000).toFixed(1)} s` : formatAge(ms);
}

/** 0.9871 → `98.7%`; null → `—`. */
export function formatPercent(ratio: number | null | undefined): string {
	if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) {
		return '—';
	}

	return `${(ratio * 100).toFixed(ratio >= 0.9995 || ratio === 0 ? 0 : 1)}%`;
}

/** 1234 → `1.2k`, 15 → `15`, 0.25 → `0.3`: counts and rates in four or five characters. */
export function formatCount(value: number): string {
	const abs = Math.abs(value);
	if (abs >= 1e9) {
		return `${(value / 1e9).toFixed(1)}G`;
	}

	if (abs >= 1e6) {
		return `${(value / 1e6).toFixed(1)}M`;
	}

	if (abs >= 1e4) {
		return `${Math.round(value / 1e3)}k`;
	}

	if (abs >= 1e3) {
		return `${(value / 1e3).toFixed(1)}k`;
	}

	return abs > 0 && abs < 10 && !Number.isInteger(value) ? value.toFixed(1) : String(Math.round(value));
}

/** Cuts `text` to `width` characters, marking the cut with `…`. */
export function truncate(text: string, width: number): string {
	if (width <= 0) {
		return '';
	}

	return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** `text` cut or padded with spaces to exactly `width` characters. */
export function fit(text: string, width: number): string {
	return truncate(text, width).padEnd(width);
}

/** `00:00:07` style clock time of a Date (local time), for "updated at". */
export function formatClock(date: Date): string {
	return [date.getHours(), date.getMinutes(), date.getSeconds()].map(part => String(part).padStart(2, '0')).join(':');
}

/** A refresh interval: `0.5 s`, `2 s`, `1 min`. */
export function formatInterval(ms: number): string {
	if (ms >= 60_000 && ms % 60_000 === 0) {
		return `${ms / 60_000} min`;
	}

	return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(ms < 1000 ? 2 : 1).replace(/0$/, '')} s`;
}

/** `text` broken into lines of at most `width` characters at spaces (a longer word is cut). */
export function wrapText(text: string, width: number): string[] {
	const lines: string[] = [];
	let line = '';
	for (const word of text.split(/\s+/).filter(Boolean)) {
		if (line === '') {
			line = word;
		} else if (line.length + 1 + word.length <= width) {
			line += ` ${word}`;
		} else {
			lines.push(line);
			line = word;
		}

		while (line.length > width && width > 0) {
			lines.push(line.slice(0, width));
			line = line.slice(width);
		}
	}

	if (line !== '') {
		lines.push(line);
	}

	return lines;
}
