import {Spinner} from '@inkjs/ui';
import {Box, Text, useInput} from 'ink';
import {useEffect, useState} from 'react';
import type {MigrationEvent} from '../../core/migrations/migration-events.js';
import {rollbackMigrations, type PlannedRollback, type RollbackResult} from '../../core/migrations/rollback.js';
import {migrationStatus, type MigrationStatus} from '../../core/migrations/status.js';
import {redact} from '../../core/redact.js';
import {KeyFooter} from '../components/key-footer.js';
import {SelectList} from '../components/select-list.js';
import {SqlView} from '../components/sql-view.js';
import {TypedConfirmation} from '../components/typed-confirmation.js';
import {useExitOnce} from './backup-exit-once.js';
import type {FlowProps} from './flow-context.js';
import {flowMigrationSettings} from './flow-migration-settings.js';
import {migrationLabel} from './migration-progress.js';
import {MigrationRunScreen} from './migration-run-screen.js';
import {OperationFailure} from './operation-failure.js';
import {PlanReadFailed, PlanReading} from './plan-status.js';
import {ReadonlyRefusal} from './readonly-refusal.js';
import {SqlPage} from './sql-page.js';
import {ignoreFold, useCoreOperation} from './use-core-operation.js';
import {useMigrationRun} from './use-migration-run.js';

/** The word typed to confirm: rollback SQL drops tables and columns, and the data in them. */
export const ROLLBACK_CONFIRMATION = 'rollback';

type Screen = 'choose' | 'plan' | 'sql' | 'confirm' | 'run';

/** Lines the choose and plan screens need besides their list and SQL. */
const CHROME = 7;

/**
 * The console's guided roll back (key u). Choose how far from the applied list (the highlighted
 * migration and every newer one are undone), then a dry run of `rollbackMigrations` shows each
 * one with the rollback SQL stored when it was applied — what will actually run. Confirming takes
 * the word `rollback` typed in full, since rollback SQL usually drops data; then progress per
 * migration and a summary, or the failure with its line and server error. If the applied set
 * changed between review and run, it stops before rolling back anything. esc goes back a step;
 * during the run it cancels through the core.
 */
export function RollbackFlow({context, onExit, width, height}: FlowProps) {
	const exit = useExitOnce(onExit);
	const status = useCoreOperation<never, MigrationStatus, undefined>(ignoreFold, undefined);
	const planning = useCoreOperation<MigrationEvent, RollbackResult, undefined>(ignoreFold, undefined);
	const run = useMigrationRun<RollbackResult>('down');
	const [screen, setScreen] = useState<Screen>('choose');
	// Index in the applied list (newest first) of the oldest migration to undo.
	const [chosenIndex, setChosenIndex] = useState(0);
	const [planIndex, setPlanIndex] = useState(0);

	const loadStatus = () => {
		status.start(async () => migrationStatus(flowMigrationSettings(context)));
	};

	useEffect(() => {
		if (!context.readonly) {
			loadStatus();
		}
		// Reads the ledger once on mount; `r` reads it again.
	}, []);

	const newestFirst = [...(status.result?.applied ?? [])].reverse();
	const withoutRollback = new Set(status.result?.warnings.missingRollbacks ?? []);
	const targetVersion = (index: number) => newestFirst[index + 1]?.version ?? 0;
	const plan = planning.result?.plan ?? [];

	const startPlanning = (index: number) => {
		setChosenIndex(index);
		setPlanIndex(0);
		setScreen('plan');
		planning.start(async io => rollbackMigrations(flowMigrationSettings(context, io), {to: targetVersion(index), dryRun: true}));
	};

	const startRun = () => {
		setScreen('run');
		run.start(plan, async io => rollbackMigrations(flowMigrationSettings(context, io), {to: targetVersion(chosenIndex)}));
	};

	const backToChoose = () => {
		run.reset();
		planning.reset();
		setScreen('choose');
		loadStatus();
	};

	const leave = () => exit({status: 'cancelled', summary: 'Rollback cancelled; nothing was rolled back.'});

	useInput(
		(input, key) => {
			if (status.status !== 'done') {
				if (key.escape) {
					status.cancel();
					if (status.status === 'running') {
						leave();
					} else {
						exit({status: 'failed', summary: `Rollback: ${redact(status.error?.message.split('\n')[0] ?? 'the ledger could not be read')}; nothing was rolled back.`});
					}
				} else if (input === 'r' && status.status !== 'running') {
					loadStatus();
				}

				return;
			}

			if (newestFirst.length === 0) {
				if (key.escape || key.return) {
					exit({status: 'done', summary: 'Nothing to roll back: no migration is applied.'});
				}

				return;
			}

			if (screen === 'choose') {
				if (key.escape) {
					leave();
				} else if (input === 'r') {
					loadStatus();
				}
			} else if (screen === 'plan') {
				if (key.escape) {
					planning.reset();
					setScreen('choose');
				} else if (planning.status === 'done' && key.return) {
					setScreen('sql');
				} else if (planning.status === 'done' && input === 'c') {
					setScreen('confirm');
				}
			} else if (screen === 'sql' && (key.escape || input === 'q')) {
				setScreen('plan');
			}
		},
		{isActive: !context.readonly && (screen === 'choose' || screen === 'plan' || screen === 'sql')},
	);

	if (context.readonly) {
		return <ReadonlyRefusal action="roll back migrations" onBack={() => exit({status: 'cancelled', summary: 'Rollback refused: the console is read-only.'})} />;
	}

	if (screen === 'run') {
		return <MigrationRunScreen run={run} database={context.database.display} height={height} onExit={exit} onReview={backToChoose} />;
	}

	if (status.status === 'running' || status.status === 'idle') {
		return <PlanReading label={`Reading the ledger of ${redact(context.database.display)}…`} />;
	}

	if (status.status !== 'done' && status.error) {
		return <PlanReadFailed message="Could not read the applied migrations; nothing was rolled back." error={status.error} />;
	}

	if (newestFirst.length === 0) {
		return (
			<Box flexDirection="column" gap={1}>
				<Text color="green">✔ Nothing to roll back: no migration is applied to {redact(context.database.display)}.</Text>
				<KeyFooter keys={[{key: 'esc', label: 'back'}]} />
			</Box>
		);
	}

	const chosen = newestFirst.slice(0, chosenIndex + 1);
	if (screen === 'choose') {
		const listHeight = Math.max(3, height - CHROME);
		return (
			<Box flexDirection="column" width={width}>
				<Text>
					<Text bold>Roll back:</Text> choose the oldest migration to undo; it and every newer one are rolled back, newest first.
				</Text>
				<Text color="gray" wrap="truncate-middle">
					{redact(context.database.display)} · now at version {status.result?.current ?? 'none'} · nothing has been changed
				</Text>
				<Box marginY={1}>
					<SelectList
						items={newestFirst.map((row, index) => ({
							key: String(row.version),
							label: `${index <= chosenIndex ? '↩' : ' '} ${migrationLabel(row)}`,
							value: row,
							color: index <= chosenIndex ? 'red' : undefined,
							hint: `${withoutRollback.has(row.version) ? 'no rollback SQL · ' : ''}applied ${row.appliedAt.slice(0, 16).replace('T', ' ')} by ${row.appliedBy}`,
						}))}
						height={listHeight}
						initialIndex={chosenIndex}
						onHighlight={(_item, index) => setChosenIndex(index)}
						onSelect={(_item, index) => startPlanning(index)}
					/>
				</Box>
				<Text>
					Rolls back to version {targetVersion(chosenIndex) === 0 ? '0 (before the first migration)' : targetVersion(chosenIndex)}: undoes {chosen.length} migration
					{chosen.length === 1 ? '' : 's'}.
				</Text>
				<KeyFooter
					keys={[
						{key: '↑↓ j k', label: 'choose'},
						{key: 'enter', label: 'review the rollback SQL'},
						{key: 'r', label: 'refresh'},
						{key: 'esc', label: 'back'},
					]}
				/>
			</Box>
		);
	}

	if (planning.status !== 'done') {
		return (
			<Box flexDirection="column" gap={1}>
				{planning.error ? (
					<>
						<Text>This rollback cannot run as chosen; nothing was rolled back.</Text>
						<OperationFailure error={planning.error} />
					</>
				) : (
					<Spinner label="Planning the rollback (dry run: nothing is changed)…" />
				)}
				<KeyFooter keys={[{key: 'esc', label: planning.error ? 'choose again' : 'back'}]} />
			</Box>
		);
	}

	const step = plan[planIndex] ?? plan[0];
	const sqlTitle = (row: PlannedRollback) => `rollback of ${migrationLabel(row)} (stored when it was applied) · ${row.noTransaction ? 'no transaction: statement by statement' : 'one transaction'}`;
	if (screen === 'sql' && step) {
		return <SqlPage key={step.version} sql={step.sql} title={sqlTitle(step)} height={height} backLabel="back to the plan" />;
	}

	if (screen === 'confirm') {
		return (
			<Box flexDirection="column" gap={1}>
				<Text bold wrap="truncate-middle">
					Roll back {plan.length} migration{plan.length === 1 ? '' : 's'} on {redact(context.database.display)}?
				</Text>
				<Box flexDirection="column">
					{plan.slice(0, Math.max(3, height - 14)).map(row => (
						<Text key={row.version} color="red">
							{'  '}↩ {migrationLabel(row)}
						</Text>
					))}
					{plan.length > Math.max(3, height - 14) ? <Text color="gray">  … and {plan.length - Math.max(3, height - 14)} more</Text> : undefined}
				</Box>
				<TypedConfirmation
					expected={ROLLBACK_CONFIRMATION}
					prompt={`Their rollback SQL runs newest first, each in its own transaction, and usually drops tables or columns with the data in them. The database ends at version ${targetVersion(chosenIndex)}.`}
					onConfirm={startRun}
					onCancel={() => setScreen('plan')}
				/>
			</Box>
		);
	}

	const listHeight = Math.min(plan.length, Math.max(3, Math.floor((height - CHROME) / 3)));
	return (
		<Box flexDirection="column" width={width}>
			<Text>
				<Text bold>Dry run:</Text> {plan.length} migration{plan.length === 1 ? '' : 's'} would be rolled back, to version {targetVersion(chosenIndex)}. Nothing has been changed.
			</Text>
			<Text color="gray" wrap="truncate-middle">
				{redact(context.database.display)} · now at version {status.result?.current ?? 'none'}
			</Text>
			<Box marginY={1}>
				<SelectList
					items={plan.map(row => ({key: String(row.version), label: `↩ ${migrationLabel(row)}`, value: row, color: 'red'}))}
					height={listHeight}
					initialIndex={planIndex}
					onHighlight={(_item, index) => setPlanIndex(index)}
				/>
			</Box>
			{step ? <SqlView key={step.version} sql={step.sql} title={sqlTitle(step)} height={Math.max(4, height - CHROME - listHeight)} /> : undefined}
			<KeyFooter
				keys={[
					{key: '↑↓ j k', label: 'move'},
					{key: 'enter', label: 'read the SQL'},
					{key: 'c', label: `confirm rolling back ${plan.length}`},
					{key: 'esc', label: 'choose again'},
				]}
			/>
		</Box>
	);
}
