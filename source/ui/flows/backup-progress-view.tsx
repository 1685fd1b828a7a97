import {Box, Text} from 'ink';
import {redact} from '../../core/redact.js';
import {TransferProgress} from '../components/transfer-progress.js';
import type {BackupProgress} from './backup-progress-state.js';

/** Step lines kept on screen: the newest say what is happening; older ones scroll off. */
const VISIBLE_STEPS = 4;

/**
 * What a running backup, verification or restore has done so far: its latest step lines, a bar
 * per artifact and, for Redis restores, the keys replayed. Shared by the backup and restore flows.
 */
export function BackupProgressView({progress, width}: {progress: BackupProgress; width: number}) {
	const steps = progress.steps.slice(-VISIBLE_STEPS);
	// Room for the numbers beside the bar (about 60 columns at the widest).
	const barWidth = Math.max(10, Math.min(40, width - 62));
	return (
		<Box flexDirection="column">
			{steps.map((step, index) => (
				<Text key={`${progress.steps.length - steps.length + index}`} color="gray">
					{redact(step)}
				</Text>
			))}
			{progress.transfers.map(transfer => (
				<TransferProgress
					key={transfer.id}
					label={`${transfer.operation} ${transfer.component}: ${transfer.key}`}
					bytes={transfer.bytes}
					totalBytes={transfer.totalBytes}
					bytesPerSecond={transfer.bytesPerSecond}
					etaSeconds={transfer.etaSeconds}
					elapsedMs={transfer.elapsedMs}
					barWidth={barWidth}
				/>
			))}
			{progress.keys ? (
				<Text>
					Redis keys replayed: {progress.keys.restored}
					{progress.keys.total === null ? '' : ` of ${progress.keys.total}`}
				</Text>
			) : undefined}
		</Box>
	);
}
