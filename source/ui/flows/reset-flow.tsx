import {Spinner} from '@inkjs/ui';
import {Box, Text, useInput} from 'ink';
import {useEffect, useState} from 'react';
import type {BackupEvent} from '../../core/backup/backup-events.js';
import type {BackupManifest} from '../../core/backup/backup-manifest-types.js';
import {createBackup} from '../../core/backup/create-backup.js';
import {openBackupTarget} from '../../core/backup/targets/open-backup-target.js';
import type {MigrationEvent} from '../../core/migrations/migration-events.js';
import {resetDatabase, type ResetResult} from '../../core/migrations/reset.js';
import {redact} from '../../core/redact.js';
import {KeyFooter, type KeyHint} from '../components/key-footer.js';
import {SelectList} from '../components/select-list.js';
import {SqlView} from '../components/sql-view.js';
import {TypedConfirmation} from '../components/typed-confirmation.js';
import {useExitOnce} from './backup-exit-once.js';
import {EMPTY_PROGRESS, foldBackupEvent, type BackupProgress} from './backup-progress-state.js';
import {BackupProgressView} from './backup-progress-view.js';
import type {FlowContext, FlowProps} from './flow-context.js';
import {flowMigrationSettings} from './flow-migration-settings.js';
import {OperationFailure} from './operation-failure.js';
import {PlanReadFailed, PlanReading} from './plan-status.js';
import {ReadonlyRefusal} from './readonly-refusal.js';
import {ignoreFold, useCoreOperation, type CoreOperation} from './use-core-operation.js';

type Screen = 'review' | 'statements' | 'backup' | 'confirm' | 'run';

/** A backup taken in this flow, for the confirm screen and the summary. */
type TakenBackup = {manifest: BackupManifest; location: string};

/** Lines the review screen needs besides its list of objects. */
const REVIEW_CHROME = 9;

/**
 * The console's guided reset (key X): drops everything the migrations created. First a dry run
 * of `resetDatabase` lists exactly what will be dropped (and what reset cannot undo); then an
 * offer to back up PostgreSQL first, to the configured backup target; then the database name,
 * typed in full, is the only way to start it. The drop runs in one transaction: esc while it
 * runs rolls it back and nothing is dropped. Refused under --readonly and, as in the CLI, when
 * MSDB_ENV is production.
 */
export function ResetFlow({context, onExit, width, height}: FlowProps) {
	const exit = useExitOnce(onExit);
	const planning = useCoreOperation<MigrationEvent, ResetResult, undefined>(ignoreFold, undefined);
	const backup = useCoreOperation<BackupEvent, TakenBackup, BackupProgress>(foldBackupEvent, EMPTY_PROGRESS);
	const reset = useCoreOperation<MigrationEvent, ResetResult, undefined>(ignoreFold, undefined);
	const [screen, setScreen] = useState<Screen>('review');
	// True once the person chose to go on without a backup: the confirm screen says so.
	const [skippedBackup, setSkippedBackup] = useState(false);
	const environment = context.env.MSDB_ENV ?? '';
	const production = environment === 'production';

	const startPlanning = () => {
		planning.start(async io => resetDatabase(flowMigrationSettings(context, io), {dryRun: true, environment}));
	};

	useEffect(() => {
		if (!context.readonly) {
			startPlanning();
		}
		// Plans once on mount; `r` plans again.
	}, []);

	const plan = planning.result;
	const database = plan?.database ?? '';
	const taken = backup.status === 'done' ? backup.result : undefined;

	const startBackup = () => {
		backup.start(async io => takePostgresBackup(context, io));
	};

	const startReset = () => {
		setScreen('run');
		reset.start(async io => resetDatabase(flowMigrationSettings(context, io), {confirm: database, environment}));
	};

	const leave = () => exit({status: 'cancelled', summary: 'Reset cancelled; nothing was dropped.'});

	useInput(
		(input, key) => {
			if (planning.status !== 'done') {
				if (key.escape) {
					planning.cancel();
					if (planning.status === 'running') {
						leave();
					} else {
						exit({status: 'failed', summary: `Reset: ${redact(planning.error?.message.split('\n')[0] ?? 'the plan could not be made')}; nothing was dropped.`});
					}
				} else if (input === 'r' && planning.status !== 'running') {
					startPlanning();
				}

				return;
			}

			if (plan?.dropped.length === 0) {
				if (key.escape || key.return) {
					exit({status: 'done', summary: `Nothing to reset in ${database}: the migrations created nothing that is still there.`});
				}

				return;
			}

			if (screen === 'review') {
				if (key.escape) {
					leave();
				} else if (input === 's') {
					setScreen('statements');
				} else if (input === 'c' && !production) {
					setScreen('backup');
				} else if (input === 'r') {
					startPlanning();
				}
			} else if (screen === 'statements') {
				if (key.escape || input === 'q') {
					setScreen('review');
				}
			} else if (screen === 'backup') {
				if (backup.status === 'running') {
					if (key.escape) {
						backup.cancel();
					}
				} else if (key.escape) {
					backup.reset();
					setScreen('review');
				} else if (input === 'b' && context.backupTarget !== undefined && backup.status !== 'done') {
					startBackup();
				} else if (input === 's' && backup.status !== 'done') {
					setSkippedBackup(true);
					setScreen('confirm');
				} else if (key.return && backup.status === 'done') {
					setSkippedBackup(false);
					setScreen('confirm');
				}
			}
		},
		{isActive: !context.readonly && (screen === 'review' || screen === 'statements' || screen === 'backup')},
	);

	useInput(
		(_input, key) => {
			if (reset.status === 'running') {
				if (key.escape) {
					reset.cancel();
				}

				return;
			}

			if (key.escape || key.return) {
				exit(runOutcome());
			}
		},
		{isActive: !context.readonly && screen === 'run'},
	);

	function runOutcome() {
		const backupNote = taken ? ` Backup taken first: ${taken.manifest.id}.` : '';
		if (reset.status === 'done' && reset.result) {
			return {status: 'done' as const, summary: `Reset ${database}: dropped ${reset.result.dropped.length} object(s) and the ledger.${backupNote}`};
		}

		if (reset.status === 'cancelled') {
			return {status: 'cancelled' as const, summary: `Reset of ${database} cancelled and rolled back; nothing was dropped.${backupNote}`};
		}

		return {
			status: 'failed' as const,
			summary: `Reset of ${database} failed: ${redact(reset.error?.message.split('\n')[0] ?? 'failed')}${backupNote}`,
		};
	}

	if (context.readonly) {
		return <ReadonlyRefusal action="reset the database" onBack={() => exit({status: 'cancelled', summary: 'Reset refused: the console is read-only.'})} />;
	}

	if (planning.status === 'running' || planning.status === 'idle') {
		return <PlanReading label={`Comparing ${redact(context.database.display)} with its baseline to find what the migrations created (dry run: nothing is changed)…`} />;
	}

	if (!plan) {
		return <PlanReadFailed message="Could not work out what a reset would drop; nothing was dropped." error={planning.error} />;
	}

	if (plan.dropped.length === 0) {
		return (
			<Box flexDirection="column" gap={1}>
				<Text color="green">
					✔ Nothing to reset in {database}: msdb has no ledger there, or nothing the migrations created is left.
				</Text>
				<KeyFooter keys={[{key: 'esc', label: 'back'}]} />
			</Box>
		);
	}

	if (screen === 'run') {
		return <RunScreen database={database} reset={reset} taken={taken} summary={reset.status === 'running' ? undefined : runOutcome().summary} />;
	}

	if (screen === 'statements') {
		return (
			<Box flexDirection="column">
				<SqlView sql={plan.statements.map(statement => `${statement};`).join('\n')} title={`The statements reset runs in ${database}, in one transaction`} height={Math.max(5, height - 2)} scrollable />
				<KeyFooter
					keys={[
						{key: '↑↓ j k', label: 'scroll'},
						{key: 'pgup pgdn', label: 'page'},
						{key: 'esc', label: 'back'},
					]}
				/>
			</Box>
		);
	}

	if (screen === 'backup') {
		return <BackupOffer context={context} database={database} backup={backup} width={width} />;
	}

	if (screen === 'confirm') {
		return (
			<Box flexDirection="column" gap={1}>
				<Text bold color="red">
					Reset {database}: drop {plan.dropped.length} object{plan.dropped.length === 1 ? '' : 's'} and the data in them.
				</Text>
				{taken ? (
					<Text color="green">
						✔ Backup {taken.manifest.id} is at {redact(taken.location)}
					</Text>
				) : (
					<Text color="yellow">{skippedBackup ? 'No backup was taken: you chose to go on without one.' : 'No backup was taken.'}</Text>
				)}
				<TypedConfirmation
					expected={database}
					prompt={`This cannot be undone${taken ? ' except by restoring that backup' : ''}. To confirm, type the name of the database.`}
					onConfirm={startReset}
					onCancel={() => setScreen('backup')}
				/>
			</Box>
		);
	}

	const listHeight = Math.max(3, Math.min(plan.dropped.length, height - REVIEW_CHROME - plan.warnings.length));
	const keys: KeyHint[] = [
		{key: '↑↓ j k', label: 'scroll'},
		{key: 's', label: 'show the SQL'},
		...(production ? [] : [{key: 'c', label: 'continue'}]),
		{key: 'r', label: 'refresh'},
		{key: 'esc', label: 'back'},
	];
	return (
		<Box flexDirection="column" width={width}>
			<Text>
				<Text bold>Reset {database}:</Text> drops everything the migrations created, in one transaction — {plan.dropped.length} object
				{plan.dropped.length === 1 ? '' : 's'}, with their data, and the ledger. Nothing has been changed yet.
			</Text>
			<Box marginY={1}>
				<SelectList items={plan.dropped.map(object => ({key: object, label: object, value: object, color: 'red'}))} height={listHeight} />
			</Box>
			{plan.warnings.length > 0 ? (
				<Box flexDirection="column" marginBottom={1}>
					<Text color="yellow">Reset cannot undo these changes to objects that predate the migrations:</Text>
					{plan.warnings.map(warning => (
						<Text key={warning} color="yellow">
							{'  '}• {redact(warning)}
						</Text>
					))}
				</Box>
			) : undefined}
			{plan.keptBaselined.length > 0 ? (
				<Text color="gray">Kept: versions {plan.keptBaselined.join(', ')} were recorded by baseline; their objects predate msdb.</Text>
			) : undefined}
			<Text color="gray">The history table is kept and records the reset.</Text>
			{production ? (
				<Text color="red">
					Refused: MSDB_ENV is production, and the console does not reset production databases. If you really mean it, run `msdb migrate reset --confirm {database}{' '}
					--allow-production` from a shell, after taking a backup.
				</Text>
			) : undefined}
			<KeyFooter keys={keys} />
		</Box>
	);
}

/** PostgreSQL only: a reset touches nothing in Redis. */
async function takePostgresBackup(context: FlowContext, io: {onEvent: (event: BackupEvent) => void; signal: AbortSignal}): Promise<TakenBackup> {
	const target = openBackupTarget(context.backupTarget ?? '', context.env);
	const manifest = await createBackup({target, components: ['postgres'], database: context.database, onEvent: io.onEvent, signal: io.signal});
	return {manifest, location: `${target.display}/${manifest.id}/`};
}

type BackupOfferProps = {
	context: FlowContext;
	database: string;
	backup: CoreOperation<BackupEvent, TakenBackup, BackupProgress>;
	width: number;
};

function BackupOffer({context, database, backup, width}: BackupOfferProps) {
	if (context.backupTarget === undefined) {
		return (
			<Box flexDirection="column" gap={1}>
				<Text bold>Back up {database} first?</Text>
				<Text color="yellow">No backup target is configured, so the console cannot take a backup.</Text>
				<Text>
					To have one, leave with esc, start msdb with --target s3://bucket/prefix (or a directory), or set MSDB_BACKUP_TARGET; or take one with pg_dump
					yourself.
				</Text>
				<KeyFooter
					keys={[
						{key: 's', label: 'go on without a backup'},
						{key: 'esc', label: 'back'},
					]}
				/>
			</Box>
		);
	}

	const target = redact(context.backupTarget);
	switch (backup.status) {
		case 'idle': {
			return (
				<Box flexDirection="column" gap={1}>
					<Text bold>Back up {database} first?</Text>
					<Text>A PostgreSQL backup (pg_dump) to {target} lets you undo this reset by restoring it. Recommended.</Text>
					<KeyFooter
						keys={[
							{key: 'b', label: 'back up now'},
							{key: 's', label: 'skip the backup'},
							{key: 'esc', label: 'back'},
						]}
					/>
				</Box>
			);
		}

		case 'running': {
			return (
				<Box flexDirection="column" gap={1}>
					<Text bold>
						Backing up {database} to {target}…
					</Text>
					<BackupProgressView progress={backup.view} width={width} />
					{backup.cancelling ? <Spinner label="Cancelling the backup: stopping pg_dump and removing what was written…" /> : undefined}
					<KeyFooter keys={[{key: 'esc', label: backup.cancelling ? 'cancelling…' : 'cancel the backup (nothing is dropped)'}]} />
				</Box>
			);
		}

		case 'done': {
			return (
				<Box flexDirection="column" gap={1}>
					<Text color="green">
						✔ Backup {backup.result?.manifest.id} is at {redact(backup.result?.location ?? '')}
					</Text>
					<KeyFooter
						keys={[
							{key: 'enter', label: 'go on to the confirmation'},
							{key: 'esc', label: 'back'},
						]}
					/>
				</Box>
			);
		}

		default: {
			return (
				<Box flexDirection="column" gap={1}>
					<Text>The backup did not complete; no backup was kept, and nothing was dropped.</Text>
					{backup.error ? <OperationFailure error={backup.error} /> : undefined}
					<KeyFooter
						keys={[
							{key: 'b', label: 'try the backup again'},
							{key: 's', label: 'go on without a backup'},
							{key: 'esc', label: 'back'},
						]}
					/>
				</Box>
			);
		}
	}
}

type RunScreenProps = {
	database: string;
	reset: CoreOperation<MigrationEvent, ResetResult, undefined>;
	taken: TakenBackup | undefined;
	summary: string | undefined;
};

function RunScreen({database, reset, taken, summary}: RunScreenProps) {
	return (
		<Box flexDirection="column" gap={1}>
			{reset.status === 'running' ? (
				<Spinner label={reset.cancelling ? `Cancelling: rolling back the reset of ${database}; nothing will be dropped…` : `Resetting ${database} in one transaction…`} />
			) : undefined}
			{reset.status === 'done' ? <Text color="green">✔ {summary}</Text> : undefined}
			{reset.status === 'done' && reset.result?.warnings.length ? (
				<Text color="yellow">Not undone by the reset: {reset.result.warnings.map(warning => redact(warning)).join('; ')}</Text>
			) : undefined}
			{reset.status === 'failed' || reset.status === 'cancelled' ? (
				<>
					{reset.error ? <OperationFailure error={reset.error} /> : undefined}
					{taken ? <Text>The backup {taken.manifest.id} taken before is still there.</Text> : undefined}
				</>
			) : undefined}
			<KeyFooter
				keys={
					reset.status === 'running'
						? [{key: 'esc', label: reset.cancelling ? 'cancelling…' : 'cancel (the transaction rolls back; nothing is dropped)'}]
						: [{key: 'enter esc', label: 'back to the console'}]
				}
			/>
		</Box>
	);
}
