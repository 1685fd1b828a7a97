import {Spinner} from '@inkjs/ui';
import {Box, Text, useInput} from 'ink';
import {useEffect, useRef, useState} from 'react';
import {applyMigrations, type ApplyResult, type PlannedMigration} from '../../core/migrations/apply.js';
import type {MigrationEvent} from '../../core/migrations/migration-events.js';
import {redact} from '../../core/redact.js';
import {KeyFooter, type KeyHint} from '../components/key-footer.js';
import {SelectList} from '../components/select-list.js';
import {SqlView} from '../components/sql-view.js';
import {useExitOnce} from './backup-exit-once.js';
import type {FlowProps} from './flow-context.js';
import {flowMigrationSettings} from './flow-migration-settings.js';
import {EMPTY_MIGRATION_PROGRESS, foldMigrationEvent, migrationLabel, samePlan, type MigrationProgress} from './migration-progress.js';
import {MigrationRunScreen} from './migration-run-screen.js';
import {OperationFailure} from './operation-failure.js';
import {ReadonlyRefusal} from './readonly-refusal.js';
import {ignoreFold, useCoreOperation} from './use-core-operation.js';

type Screen = 'review' | 'sql' | 'confirm' | 'run';

/** Lines the review screen needs besides the list and the SQL: title, blank lines, footer. */
const REVIEW_CHROME = 7;

/**
 * The console's guided migrate (key m). It starts with a dry run of `applyMigrations` — the same
 * checks and plan as a real run, nothing changed — and shows each pending migration with its SQL.
 * `a` (or `t`, up to the highlighted one) goes to a confirm screen, where only `y` starts the run:
 * enter does not, so a second enter from the list cannot apply anything. Then live progress per
 * migration and a summary; a failure shows the file, line and the server's error. If the pending
 * set changed between review and run (another deploy), it stops before applying anything.
 * esc goes back a step; during the run it cancels through the core.
 */
export function MigrateFlow({context, onExit, width, height}: FlowProps) {
	const exit = useExitOnce(onExit);
	const planning = useCoreOperation<MigrationEvent, ApplyResult, undefined>(ignoreFold, undefined);
	const run = useCoreOperation<MigrationEvent, ApplyResult, MigrationProgress>(foldMigrationEvent, EMPTY_MIGRATION_PROGRESS);
	const [screen, setScreen] = useState<Screen>('review');
	const [highlighted, setHighlighted] = useState(0);
	// Apply up to and including this version; undefined applies every pending migration.
	const [target, setTarget] = useState<number>();
	const [reviewed, setReviewed] = useState<PlannedMigration[]>([]);
	const planChanged = useRef(false);
	// A second y can reach the confirm screen's key handler before React has swapped screens; it
	// must not start (and so cancel and restart) the run.
	const runStarted = useRef(false);

	const startPlanning = () => {
		planning.start(async io => applyMigrations(flowMigrationSettings(context, io), {dryRun: true}));
	};

	useEffect(() => {
		if (!context.readonly) {
			startPlanning();
		}
		// Plans once on mount; `r` plans again.
	}, []);

	const plan = planning.result?.plan ?? [];
	const current = planning.result?.current ?? null;
	const chosen = target === undefined ? plan : plan.filter(migration => migration.version <= target);

	const startRun = () => {
		if (runStarted.current) {
			return;
		}

		runStarted.current = true;
		planChanged.current = false;
		setReviewed(chosen);
		setScreen('run');
		run.start(async io =>
			applyMigrations(
				flowMigrationSettings(context, {
					signal: io.signal,
					onEvent(event) {
						// Verify before touching anything: the core plans again under the lock; if that plan is
						// not the one reviewed, stop before its first migration runs.
						if (event.type === 'plan' && !samePlan(chosen, event.migrations)) {
							planChanged.current = true;
							run.cancel();
						}

						io.onEvent(event);
					},
				}),
				{target: target ?? chosen.at(-1)?.version},
			),
		);
	};

	const backToReview = () => {
		runStarted.current = false;
		run.reset();
		setTarget(undefined);
		setScreen('review');
		startPlanning();
	};

	const reviewing = !context.readonly && screen !== 'run';
	useInput(
		(input, key) => {
			if (planning.status === 'running') {
				if (key.escape) {
					planning.cancel();
					exit({status: 'cancelled', summary: 'Migrate cancelled; nothing was applied.'});
				}

				return;
			}

			if (planning.status !== 'done') {
				if (key.escape) {
					exit({status: 'failed', summary: `Migrate: ${redact(planning.error?.message.split('\n')[0] ?? 'the plan could not be read')}; nothing was applied.`});
				} else if (input === 'r') {
					startPlanning();
				}

				return;
			}

			if (plan.length === 0) {
				if (key.escape || key.return) {
					exit({status: 'done', summary: `Nothing to apply; the database is at version ${current ?? 'none'}.`});
				}

				return;
			}

			const migration = plan[highlighted];
			if (screen === 'review') {
				if (key.escape) {
					exit({status: 'cancelled', summary: 'Migrate cancelled; nothing was applied.'});
				} else if (key.return) {
					setScreen('sql');
				} else if (input === 'a') {
					setTarget(undefined);
					setScreen('confirm');
				} else if (input === 't' && migration) {
					setTarget(migration.version);
					setScreen('confirm');
				} else if (input === 'r') {
					startPlanning();
				}
			} else if (screen === 'sql') {
				if (key.escape || input === 'q') {
					setScreen('review');
				}
			} else if (screen === 'confirm') {
				if (key.escape || input === 'n') {
					setTarget(undefined);
					setScreen('review');
				} else if (input === 'y') {
					startRun();
				}
			}
		},
		{isActive: reviewing},
	);

	useInput(
		(input, key) => {
			if (run.status === 'running') {
				if (key.escape) {
					run.cancel();
				}

				return;
			}

			const summary = runSummary();
			if (key.escape || key.return) {
				exit(summary);
			} else if (input === 'r' && planChanged.current) {
				backToReview();
			}
		},
		{isActive: !context.readonly && screen === 'run'},
	);

	function runSummary() {
		const applied = run.result?.applied ?? run.view.steps.filter(step => step.status === 'done');
		const appliedText = applied.length > 0 ? `${applied.map(migrationLabel).join(', ')} applied` : 'nothing was applied';
		if (run.status === 'done') {
			return {
				status: 'done' as const,
				summary:
					applied.length === 0 ? 'Nothing to apply.' : `Applied ${applied.length} migration(s) (${applied.map(migrationLabel).join(', ')}); now at version ${run.result?.current ?? 'none'}.`,
			};
		}

		if (run.status === 'cancelled') {
			return {status: 'cancelled' as const, summary: planChanged.current ? 'Migrate stopped: the pending migrations changed since the review; nothing was applied.' : `Migrate cancelled; ${appliedText}.`};
		}

		const failed = run.view.steps.find(step => step.status === 'failed');
		const reason = redact(String(run.error?.details.serverMessage ?? run.error?.message.split('\n')[0] ?? 'failed'));
		return {status: 'failed' as const, summary: `Migrate failed${failed ? ` at ${migrationLabel(failed)}` : ''}: ${reason}; ${appliedText}.`};
	}

	if (context.readonly) {
		return <ReadonlyRefusal action="apply migrations" onBack={() => exit({status: 'cancelled', summary: 'Migrate refused: the console is read-only.'})} />;
	}

	if (screen === 'run') {
		return (
			<MigrationRunScreen
				direction="up"
				database={context.database.display}
				run={run}
				sqlByVersion={new Map(reviewed.map(step => [step.version, step.sql]))}
				planChanged={planChanged.current}
				summary={run.status === 'running' ? undefined : runSummary().summary}
				height={height}
			/>
		);
	}

	if (planning.status === 'running' || planning.status === 'idle') {
		return (
			<Box flexDirection="column" gap={1}>
				<Spinner label={`Reading ${context.migrationsDir} and the ledger of ${redact(context.database.display)} (dry run: nothing is changed)…`} />
				<KeyFooter keys={[{key: 'esc', label: 'back'}]} />
			</Box>
		);
	}

	if (planning.status !== 'done' && planning.error) {
		return (
			<Box flexDirection="column" gap={1}>
				<Text>Could not plan the migration; nothing was applied.</Text>
				<OperationFailure error={planning.error} />
				<KeyFooter
					keys={[
						{key: 'r', label: 'try again'},
						{key: 'esc', label: 'back'},
					]}
				/>
			</Box>
		);
	}

	if (plan.length === 0) {
		return (
			<Box flexDirection="column" gap={1}>
				<Text color="green">✔ Nothing to apply: every migration in {context.migrationsDir} is applied; the database is at version {current ?? 'none'}.</Text>
				<KeyFooter keys={[{key: 'esc', label: 'back'}]} />
			</Box>
		);
	}

	const migration = plan[highlighted] ?? plan[0];
	if (screen === 'sql' && migration) {
		return (
			<Box flexDirection="column">
				<SqlView
					key={migration.version}
					sql={migration.sql}
					title={`${redact(migration.file)} · ${transactionNote(migration)}`}
					height={Math.max(5, height - 2)}
					scrollable
				/>
				<KeyFooter
					keys={[
						{key: '↑↓ j k', label: 'scroll'},
						{key: 'pgup pgdn', label: 'page'},
						{key: 'g G', label: 'top / end'},
						{key: 'esc', label: 'back to the list'},
					]}
				/>
			</Box>
		);
	}

	if (screen === 'confirm') {
		return (
			<Box flexDirection="column" gap={1}>
				<Text bold>
					Apply {chosen.length} migration{chosen.length === 1 ? '' : 's'} to {redact(context.database.display)}?
				</Text>
				<Box flexDirection="column">
					{chosen.slice(0, Math.max(3, height - 12)).map(step => (
						<Text key={step.version}>
							{'  '}• {migrationLabel(step)} <Text color="gray">({transactionNote(step)})</Text>
						</Text>
					))}
					{chosen.length > Math.max(3, height - 12) ? <Text color="gray">  … and {chosen.length - Math.max(3, height - 12)} more</Text> : undefined}
					{chosen.length < plan.length ? (
						<Text color="gray">
							{'  '}
							{plan.length - chosen.length} newer pending migration(s) stay pending.
						</Text>
					) : undefined}
				</Box>
				<Text>
					They run oldest first, each in its own transaction: a failure stops the run there and rolls back that migration only; the ones before it stay applied.
				</Text>
				<KeyFooter
					keys={[
						{key: 'y', label: `apply ${chosen.length}`},
						{key: 'esc', label: 'back to the plan'},
					]}
				/>
			</Box>
		);
	}

	const listHeight = Math.min(plan.length, Math.max(3, Math.floor((height - REVIEW_CHROME) / 3)));
	const sqlHeight = Math.max(4, height - REVIEW_CHROME - listHeight);
	const keys: KeyHint[] = [
		{key: '↑↓ j k', label: 'move'},
		{key: 'enter', label: 'read the SQL'},
		{key: 'a', label: `apply all ${plan.length}`},
		...(migration && migration !== plan.at(-1) ? [{key: 't', label: `apply up to ${migrationLabel(migration)}`}] : []),
		{key: 'r', label: 'refresh'},
		{key: 'esc', label: 'back'},
	];
	return (
		<Box flexDirection="column" width={width}>
			<Text>
				<Text bold>Dry run:</Text> {plan.length} pending migration{plan.length === 1 ? '' : 's'} would be applied. Nothing has been changed.
			</Text>
			<Text color="gray" wrap="truncate-middle">
				{redact(context.database.display)} · now at version {current ?? 'none'}
			</Text>
			<Box marginY={1}>
				<SelectList
					items={plan.map(step => ({key: String(step.version), label: migrationLabel(step), value: step, hint: step.noTransaction ? 'no transaction' : undefined}))}
					height={listHeight}
					initialIndex={highlighted}
					onHighlight={(_item, index) => setHighlighted(index)}
					isActive={screen === 'review'}
				/>
			</Box>
			{migration ? <SqlView key={migration.version} sql={migration.sql} title={`${redact(migration.file)} · ${transactionNote(migration)}`} height={sqlHeight} /> : undefined}
			<KeyFooter keys={keys} />
		</Box>
	);
}

function transactionNote(migration: {noTransaction: boolean}): string {
	return migration.noTransaction ? 'no transaction: statement by statement' : 'one transaction';
}
