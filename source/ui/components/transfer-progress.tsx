import {ProgressBar, Spinner} from '@inkjs/ui';
import {Box, Text} from 'ink';
import {formatBytes, formatMs} from '../../cli/progress-lines.js';

/** Props of {@link TransferProgress}: one artifact's bytes so far, as the core's progress events report them. */
export type TransferProgressProps = {
	/** What is moving: `upload postgres 20261124T031500Z-1a2b3c/postgres.dump`. */
	label: string;
	bytes: number;
	/** Null while the size is unknown (a pg_dump stream, a diskless RDB). */
	totalBytes: number | null;
	bytesPerSecond: number;
	/** Seconds left, when the total is known. */
	etaSeconds: number | null;
	/** Set once the transfer has finished. */
	elapsedMs?: number | null | undefined;
	/** Columns of the bar itself. */
	barWidth?: number | undefined;
};

/**
 * One artifact's transfer: a bar with bytes of total, rate and time left; when the total is not
 * known yet, bytes and rate beside a spinner, so a stream of unknown length still shows that it
 * moves. A finished transfer collapses to one line with its size and time.
 */
export function TransferProgress({label, bytes, totalBytes, bytesPerSecond, etaSeconds, elapsedMs, barWidth = 30}: TransferProgressProps) {
	if (elapsedMs !== undefined && elapsedMs !== null) {
		return (
			<Text>
				<Text color="green">✔ </Text>
				{label}
				<Text color="gray">
					{'  '}
					{formatBytes(bytes)} in {formatMs(elapsedMs)}
				</Text>
			</Text>
		);
	}

	const rate = `${formatBytes(bytesPerSecond)}/s`;
	if (totalBytes === null) {
		return (
			<Box flexDirection="column">
				<Text>{label}</Text>
				<Box paddingLeft={2}>
					<Spinner label={`${formatBytes(bytes)} · ${rate} · total not known until the end`} />
				</Box>
			</Box>
		);
	}

	const percent = totalBytes > 0 ? Math.min(100, (bytes / totalBytes) * 100) : 100;
	return (
		<Box flexDirection="column">
			<Text>{label}</Text>
			<Box paddingLeft={2} columnGap={1}>
				<Box width={barWidth}>
					<ProgressBar value={percent} />
				</Box>
				<Text>
					{String(Math.floor(percent)).padStart(3)}% {formatBytes(bytes)} / {formatBytes(totalBytes)} · {rate}
					{etaSeconds === null ? '' : ` · ${formatEta(etaSeconds)} left`}
				</Text>
			</Box>
		</Box>
	);
}

/** 75 → "1 min 15 s": time left, rounded up so it never says 0 s while work remains. */
export function formatEta(seconds: number): string {
	const whole = Math.max(0, Math.ceil(seconds));
	if (whole < 60) {
		return `${whole} s`;
	}

	const minutes = Math.floor(whole / 60);
	return minutes < 60 ? `${minutes} min ${whole % 60} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
