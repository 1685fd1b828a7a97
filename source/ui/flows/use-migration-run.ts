import {useRef, useState} from 'react';
import type {ApplyResult} from '../../core/migrations/apply.js';
import type {MigrationDirection, MigrationEvent} from '../../core/migrations/migration-events.js';
import type {RollbackResult} from '../../core/migrations/rollback.js';
import {redact} from '../../core/redact.js';
import type {FlowOutcome} from './flow-context.js';
import {EMPTY_MIGRATION_PROGRESS, foldMigrationEvent, migrationLabel, samePlan, type MigrationProgress} from './migration-progress.js';
import {useCoreOperation, type CoreOperation, type OperationIo} from './use-core-operation.js';

/** One migration of the reviewed plan: the SQL is kept to show a failing line in context. */
export type ReviewedMigration = {version: number; name: string; sql: string};

/** The apply or rollback run of a migrate or roll-back flow, after its plan was reviewed. */
export type MigrationRun<R extends ApplyResult | RollbackResult> = {
	direction: MigrationDirection;
	operation: CoreOperation<MigrationEvent, R, MigrationProgress>;
	/** The plan the person confirmed, as it was on the screen. */
	reviewed: readonly ReviewedMigration[];
	/** True when the core's plan differed from the reviewed one, so the run was stopped before its first step. */
	planChanged: () => boolean;
	/**
	 * Runs `invoke` (applyMigrations or rollbackMigrations, not a dry run) with an io that stops
	 * the run before its first step when the core's plan is not `reviewed`.
	 */
	start: (reviewed: readonly ReviewedMigration[], invoke: (io: OperationIo<MigrationEvent>) => Promise<R>) => void;
	/** How the run ended, for the summary line and the console's status line. */
	outcome: () => FlowOutcome;
	/** Drops the run's state, to review a new plan. */
	reset: () => void;
};

const WORDS: Record<MigrationDirection, {operation: string; done: string; doneTitle: string; compared: string}> = {
	up: {operation: 'Migrate', done: 'applied', doneTitle: 'Applied', compared: 'pending'},
	down: {operation: 'Rollback', done: 'rolled back', doneTitle: 'Rolled back', compared: 'applied'},
};

/**
 * The run half shared by the migrate and roll-back flows: the core operation with its progress,
 * the check that the core runs exactly what was reviewed, and the summary of how it ended.
 * Shared so both directions guard against a plan that changed in the same way.
 */
export function useMigrationRun<R extends ApplyResult | RollbackResult>(direction: MigrationDirection): MigrationRun<R> {
	const operation = useCoreOperation<MigrationEvent, R, MigrationProgress>(foldMigrationEvent, EMPTY_MIGRATION_PROGRESS);
	const [reviewed, setReviewed] = useState<readonly ReviewedMigration[]>([]);
	const planChanged = useRef(false);

	const start = (plan: readonly ReviewedMigration[], invoke: (io: OperationIo<MigrationEvent>) => Promise<R>) => {
		planChanged.current = false;
		setReviewed(plan);
		operation.start(async io =>
			invoke({
				signal: io.signal,
				onEvent(event) {
					// The core plans again under the lock: if that is not what was reviewed (another run
					// applied or rolled back meanwhile), stop before its first migration runs.
					if (event.type === 'plan' && !samePlan(plan, event.migrations)) {
						planChanged.current = true;
						operation.cancel();
					}

					io.onEvent(event);
				},
			}),
		);
	};

	const outcome = (): FlowOutcome => {
		const words = WORDS[direction];
		const result = operation.result;
		const finished = (result ? ('applied' in result ? result.applied : result.rolledBack) : undefined) ?? operation.view.steps.filter(step => step.status === 'done');
		const labels = finished.map(migrationLabel).join(', ');
		const finishedText = finished.length > 0 ? `${labels} ${words.done}` : `nothing was ${words.done}`;
		if (operation.status === 'done') {
			// Only an apply can have nothing to do: a rollback plan always names what it undoes.
			const nothingToApply = direction === 'up' && finished.length === 0;
			return {
				status: 'done',
				summary: nothingToApply ? 'Nothing to apply.' : `${words.doneTitle} ${finished.length} migration(s) (${labels}); now at version ${result?.current ?? 'none'}.`,
			};
		}

		if (operation.status === 'cancelled') {
			return {
				status: 'cancelled',
				summary: planChanged.current
					? `${words.operation} stopped: the ${words.compared} migrations changed since the review; nothing was ${words.done}.`
					: `${words.operation} cancelled; ${finishedText}.`,
			};
		}

		const failed = operation.view.steps.find(step => step.status === 'failed');
		const reason = redact(String(operation.error?.details.serverMessage ?? operation.error?.message.split('\n')[0] ?? 'failed'));
		return {status: 'failed', summary: `${words.operation} failed${failed ? ` at ${migrationLabel(failed)}` : ''}: ${reason}; ${finishedText}.`};
	};

	return {
		direction,
		operation,
		reviewed,
		planChanged: () => planChanged.current,
		start,
		outcome,
		reset: operation.reset,
	};
}
