import {Box, Text, useInput} from 'ink';
import {useEffect, useRef, useState} from 'react';
import {applyMigrations, type ApplyResult} from '../../core/migrations/apply.js';
import type {MigrationEvent} from '../../core/migrations/migration-events.js';
import {redact} from '../../core/redact.js';
import {KeyFooter, type KeyHint} from '../components/key-footer.js';
import {SelectList} from '../components/select-list.js';
import {SqlView} from '../components/sql-view.js';
import {useExitOnce} from './backup-exit-once.js';
import type {FlowProps} from './flow-context.js';
import {flowMigrationSettings} from './flow-migration-settings.js';
import {migrationLabel} from './migration-progress.js';
import {MigrationRunScreen} from './migration-run-screen.js';
import {PlanReadFailed, PlanReading} from './plan-status.js';
import {ReadonlyRefusal} from './readonly-refusal.js';
import {SqlPage} from './sql-page.js';
import {ignoreFold, useCoreOperation} from './use-core-operation.js';
import {useMigrationRun} from './use-migration-run.js';

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
	const run = useMigrationRun<ApplyResult>('up');
	const [screen, setScreen] = useState<Screen>('review');
	const [highlighted, setHighlighted] = useState(0);
	// Apply up to and including this version; undefined applies every pending migration.
	const [target, setTarget] = useState<number>();
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
		setScreen('run');
		run.start(chosen, async io => applyMigrations(flowMigrationSettings(context, io), {target: target ?? chosen.at(-1)?.version}));
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

	if (context.readonly) {
		return <ReadonlyRefusal action="apply migrations" onBack={() => exit({status: 'cancelled', summary: 'Migrate refused: the console is read-only.'})} />;
	}

	if (screen === 'run') {
		return <MigrationRunScreen run={run} database={context.database.display} height={height} onExit={exit} onReview={backToReview} />;
	}

	if (planning.status === 'running' || planning.status === 'idle') {
		return <PlanReading label={`Reading ${context.migrationsDir} and the ledger of ${redact(context.database.display)} (dry run: nothing is changed)…`} />;
	}

	if (planning.status !== 'done' && planning.error) {
		return <PlanReadFailed message="Could not plan the migration; nothing was applied." error={planning.error} />;
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
		return <SqlPage key={migration.version} sql={migration.sql} title={`${redact(migration.file)} · ${transactionNote(migration)}`} height={height} backLabel="back to the list" />;
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
