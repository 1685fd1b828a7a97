import {Text} from 'ink';

/** Colour of a gauge by how full it is. */
export type GaugeTone = 'green' | 'yellow' | 'red';

/** The thresholds below which a gauge stays green / yellow (fractions of the maximum). */
export type GaugeThresholds = {warnAt: number; dangerAt: number};

/** Defaults: a pool or a memory limit past 70% deserves a look, past 90% action. */
export const DEFAULT_GAUGE_THRESHOLDS: GaugeThresholds = {warnAt: 0.7, dangerAt: 0.9};

/** `███████░░░` for a ratio (clamped to 0–1) in `width` cells; any non-zero value shows at least one cell. */
export function gaugeBar(ratio: number, width: number): {filled: string; empty: string} {
	const cells = Math.max(0, Math.floor(width));
	const clamped = Number.isFinite(ratio) ? Math.min(1, Math.max(0, ratio)) : 0;
	let filled = Math.round(clamped * cells);
	if (clamped > 0 && filled === 0 && cells > 0) {
		filled = 1;
	}

	return {filled: '█'.repeat(filled), empty: '░'.repeat(cells - filled)};
}

export function gaugeTone(ratio: number, thresholds: GaugeThresholds = DEFAULT_GAUGE_THRESHOLDS): GaugeTone {
	return ratio >= thresholds.dangerAt ? 'red' : ratio >= thresholds.warnAt ? 'yellow' : 'green';
}

export type GaugeProps = {
	/** Text before the bar, padded to `labelWidth`. */
	label?: string;
	labelWidth?: number;
	value: number;
	max: number;
	/** Total characters the gauge may use (label, bar and figures). */
	width: number;
	/** How value and max are written (default: whole numbers). */
	format?: (value: number) => string;
	thresholds?: GaugeThresholds;
};

/**
 * One line: `label ███████░░░ 70% 70/100`, the bar coloured by threshold. The bar takes the room
 * the label and figures leave (at least 4 cells; below that the figures alone are shown).
 */
export function Gauge({label, labelWidth, value, max, width, format = value => String(Math.round(value)), thresholds}: GaugeProps) {
	const ratio = max > 0 ? value / max : 0;
	const percent = max > 0 ? `${Math.round(ratio * 100)}%` : '—';
	const figures = `${percent.padStart(4)} ${format(value)}/${format(max)}`;
	const labelText = label === undefined ? '' : `${label.length > (labelWidth ?? label.length) ? `${label.slice(0, Math.max(0, (labelWidth ?? 1) - 1))}…` : label.padEnd(labelWidth ?? label.length)} `;
	const barWidth = width - labelText.length - figures.length - 1;
	const tone = gaugeTone(ratio, thresholds);
	if (barWidth < 4) {
		return (
			<Text wrap="truncate-end">
				{labelText}
				<Text color={tone}>{figures.trimStart()}</Text>
			</Text>
		);
	}

	const {filled, empty} = gaugeBar(ratio, barWidth);
	return (
		<Text wrap="truncate-end">
			{labelText}
			<Text color={tone}>{filled}</Text>
			<Text color="gray">{empty}</Text> {figures}
		</Text>
	);
}
