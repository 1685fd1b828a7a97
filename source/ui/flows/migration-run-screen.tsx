import {Box, Text, useInput} from 'ink';
import type {ApplyResult} from '../../core/migrations/apply.js';
import type {MigrationDirection} from '../../core/migrations/migration-events.js';
import type {RollbackResult} from '../../core/migrations/rollback.js';
import {redact} from '../../core/redact.js';
import {KeyFooter} from '../components/key-footer.js';
import type {FlowOutcome} from './flow-context.js';
import {MigrationProgressView} from './migration-progress-view.js';
import {OperationFailure} from './operation-failure.js';
import type {OperationStatus} from './use-core-operation.js';
import type {MigrationRun} from './use-migration-run.js';

/** Props of {@link MigrationRunScreen}. */
export type MigrationRunScreenProps<R extends ApplyResult | RollbackResult> = {
	run: MigrationRun<R>;
	/** Where it runs, already safe to print (DatabaseConfig.display). */
	database: string;
	height: number;
	/** Leaves the flow once the run has ended (enter or esc). */
	onExit: (outcome: FlowOutcome) => void;
	/** `r` after the plan changed under the run: back to a fresh review. */
	onReview: () => void;
};

const TITLES: Record<MigrationDirection, Record<OperationStatus, string>> = {
	up: {idle: 'Applying migrations to', running: 'Applying migrations to', done: 'Applied migrations to', failed: 'Migrate failed on', cancelled: 'Migrate cancelled on'},
	down: {
		idle: 'Rolling back migrations on',
		running: 'Rolling back migrations on',
		done: 'Rolled back migrations on',
		failed: 'Rollback failed on',
		cancelled: 'Rollback cancelled on',
	},
};

/**
 * The run part of the migrate and roll-back flows: live progress per migration, what esc does
 * while it runs (the core cancels the running statement and rolls back the current migration),
 * then the summary, the failure (file, line, server error) or what a cancel kept.
 */
export function MigrationRunScreen<R extends ApplyResult | RollbackResult>({run: migrationRun, database, height, onExit, onReview}: MigrationRunScreenProps<R>) {
	const {direction, operation: run} = migrationRun;
	const planChanged = migrationRun.planChanged();
	useInput((input, key) => {
		if (run.status === 'running') {
			if (key.escape) {
				run.cancel();
			}

			return;
		}

		if (key.escape || key.return) {
			onExit(migrationRun.outcome());
		} else if (input === 'r' && migrationRun.planChanged()) {
			onReview();
		}
	});

	const summary = run.status === 'running' ? undefined : migrationRun.outcome().summary;
	const failedStep = run.view.steps.find(step => step.status === 'failed');
	const failedSql = failedStep ? migrationRun.reviewed.find(step => step.version === failedStep.version)?.sql : undefined;
	const kept = direction === 'up' ? 'Migrations already applied stay applied.' : 'Migrations already rolled back stay rolled back.';
	return (
		<Box flexDirection="column" gap={1}>
			<Text bold wrap="truncate-middle">
				{TITLES[direction][run.status]} {redact(database)}
			</Text>
			<MigrationProgressView progress={run.view} height={Math.max(3, height - 12)} cancelled={run.status === 'cancelled' || run.cancelling} />
			{run.cancelling ? (
				<Text color="yellow">
					Cancelling: the statement running on the server is cancelled and the current {direction === 'up' ? 'migration' : 'rollback'} rolled back. {kept}
				</Text>
			) : undefined}
			{run.status === 'done' && summary ? <Text color="green">✔ {summary}</Text> : undefined}
			{run.status === 'cancelled' && planChanged ? (
				<Text color="yellow">
					The {direction === 'up' ? 'pending' : 'applied'} migrations changed since you reviewed them (another run?). Stopped before its first step:
					nothing was {direction === 'up' ? 'applied' : 'rolled back'}.
				</Text>
			) : undefined}
			{(run.status === 'failed' || (run.status === 'cancelled' && !planChanged)) && run.error ? <OperationFailure error={run.error} sql={failedSql} /> : undefined}
			<KeyFooter
				keys={
					run.status === 'running'
						? [{key: 'esc', label: run.cancelling ? 'cancelling…' : `cancel (rolls back the current ${direction === 'up' ? 'migration' : 'step'})`}]
						: [...(planChanged ? [{key: 'r', label: 'review the new plan'}] : []), {key: 'enter esc', label: 'back to the console'}]
				}
			/>
		</Box>
	);
}
