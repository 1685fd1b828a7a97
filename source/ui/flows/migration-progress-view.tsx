import {Spinner} from '@inkjs/ui';
import {Box, Text} from 'ink';
import {redact} from '../../core/redact.js';
import {migrationLabel, type MigrationProgress, type MigrationStep} from './migration-progress.js';

/** Props of {@link MigrationProgressView}. */
export type MigrationProgressViewProps = {
	progress: MigrationProgress;
	/** Rows for the list of migrations; a long run shows the rows around the one running. */
	height: number;
	/** The run was cancelled: the migration that stopped was rolled back, not broken. */
	cancelled?: boolean | undefined;
};

/**
 * Live progress of an apply or rollback: one row per migration (waiting, running with its
 * statement, done with its time, failed), the lock wait, and notes such as the ledger being
 * created.
 */
export function MigrationProgressView({progress, height, cancelled = false}: MigrationProgressViewProps) {
	const {steps} = progress;
	const rows = Math.max(3, height);
	const running = Math.max(0, steps.findIndex(step => step.status === 'running' || step.status === 'failed'));
	const start = steps.length <= rows ? 0 : Math.min(Math.max(0, running - Math.floor(rows / 2)), steps.length - rows);
	const shown = steps.slice(start, start + rows);
	const done = steps.filter(step => step.status === 'done').length;
	return (
		<Box flexDirection="column">
			{progress.waitingForLock ? (
				<Spinner
					label={`waiting for the migration lock${progress.waitingForLock.holder ? `, held by ${redact(progress.waitingForLock.holder)}` : ''} (another run is migrating this database)`}
				/>
			) : undefined}
			{steps.length > 0 ? (
				<Text color="gray">
					{done} of {steps.length} {progress.direction === 'down' ? 'rolled back' : 'applied'}
				</Text>
			) : undefined}
			{start > 0 ? <Text color="gray">  ↑ {start} more</Text> : undefined}
			{shown.map(step => (
				<StepRow key={step.version} step={step} verb={progress.direction === 'down' ? 'rolling back' : 'applying'} cancelled={cancelled} />
			))}
			{start + shown.length < steps.length ? <Text color="gray">  ↓ {steps.length - start - shown.length} more</Text> : undefined}
			{progress.notes.map(note => (
				<Text key={note} color="gray">
					· {redact(note)}
				</Text>
			))}
		</Box>
	);
}

function StepRow({step, verb, cancelled}: {step: MigrationStep; verb: string; cancelled: boolean}) {
	const label = migrationLabel(step);
	switch (step.status) {
		case 'waiting': {
			return <Text color="gray">○ {label}</Text>;
		}

		case 'running': {
			const statement = step.statement ? ` · statement ${step.statement.index} of ${step.statement.count} (line ${step.statement.line})` : '';
			const retry = step.retry ? ` · lock busy, retrying: ${redact(step.retry)}` : '';
			return <Spinner label={`${verb} ${label}${statement}${retry}`} />;
		}

		case 'done': {
			return (
				<Text>
					<Text color="green">✔ </Text>
					{label}
					<Text color="gray"> {step.executionTimeMs ?? 0} ms</Text>
				</Text>
			);
		}

		case 'failed': {
			return cancelled ? (
				<Text color="yellow">
					■ {label} <Text color="gray">stopped by the cancel</Text>
				</Text>
			) : (
				<Text color="red">
					✖ {label} <Text color="gray">failed</Text>
				</Text>
			);
		}
	}
}
