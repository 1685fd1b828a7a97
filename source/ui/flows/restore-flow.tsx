import {Spinner} from '@inkjs/ui';
import {Box, Text, useInput} from 'ink';
import {useEffect, useMemo, useRef, useState, type ReactNode} from 'react';
import {listBackups, type BackupCatalogue, type BackupSummary} from '../../core/backup/backup-catalogue.js';
import type {BackupTarget} from '../../core/backup/backup-target.js';
import {liveDatabaseName, redisConfirmationName, restoreBackup, type RestoreBackupResult} from '../../core/backup/restore-backup.js';
import {verifyBackup} from '../../core/backup/verify-backup.js';
import {asMsdbError, BugError, type MsdbError} from '../../core/errors.js';
import {redact} from '../../core/redact.js';
import {parseRedisUrl} from '../../core/redis/redis-config.js';
import {openRedis, openTarget} from '../../cli/definitions/backup-shared.js';
import {ErrorView} from '../command-screen.js';
import {KeyFooter, type KeyHint} from '../components/key-footer.js';
import {TypedConfirmation} from '../components/typed-confirmation.js';
import {useExitOnce} from './backup-exit-once.js';
import {NoBackupTarget} from './backup-no-target.js';
import {useBackupProgress} from './backup-progress-state.js';
import {BackupProgressView} from './backup-progress-view.js';
import type {FlowProps} from './flow-context.js';
import {RestoreBackupList} from './restore-backup-list.js';
import {RestoreChoice, type RestoreOption} from './restore-choice.js';
import {describePlan, planComponents, planConfirmations, type PostgresChoice, type RedisChoice, type RedisDestination, type RestorePlan} from './restore-plan.js';
import {RestoreSteps, type RestoreStepIndex} from './restore-steps.js';
import {RestoreSummary} from './restore-summary.js';
import {runEnd, useRunController} from './use-run-controller.js';

type Screen =
	| {kind: 'loading'; notice?: string | undefined}
	| {kind: 'list-failed'; error: MsdbError}
	| {kind: 'list'; catalogue: BackupCatalogue; notice?: string | undefined}
	| {kind: 'verifying'; backup: BackupSummary; cancelling: boolean}
	| {kind: 'verify-failed'; backup: BackupSummary; problems: string[]; recorded: boolean; error?: MsdbError | undefined}
	| {kind: 'nothing'; backup: BackupSummary; reason: string}
	| {kind: 'choose-postgres'; backup: BackupSummary}
	| {kind: 'checking-name'; backup: BackupSummary}
	| {kind: 'name-failed'; backup: BackupSummary; error: MsdbError}
	| {kind: 'choose-redis'; backup: BackupSummary; postgres: PostgresChoice; liveDatabase: string | undefined}
	| {kind: 'review'; plan: RestorePlan; notice?: string | undefined}
	| {kind: 'confirm'; plan: RestorePlan; index: number}
	| {kind: 'running'; plan: RestorePlan; cancelling: boolean}
	| {kind: 'summary'; plan: RestorePlan; result: RestoreBackupResult}
	| {kind: 'failed'; plan: RestorePlan; error: MsdbError}
	| {kind: 'cancelled'; plan: RestorePlan; error: MsdbError};

/** Whether the Redis part can be restored here, and why not when it cannot. */
type RedisOffer = {offered: true; destination: RedisDestination} | {offered: false; reason: string};

const VERIFIED_LINE = '✔ Verified just now: every artifact was re-read and matched its sha256, and the archive checks passed. Nothing has been changed yet.';

/**
 * The console's guided restore (key r), for an on-call engineer at 3 a.m.: list the backups, choose
 * one, verify it (with progress) before anything is touched, choose a new database or a replace,
 * type the name for every destructive step (replace, Redis flush), watch the restore, then read
 * the post-restore checks and the next steps, including how to switch back. Every screen says
 * what it does and lists its keys; esc goes back. Under `--readonly` it refuses altogether.
 */
export function RestoreFlow({context, onExit, width, height}: FlowProps) {
	const exit = useExitOnce(onExit);
	const [screen, setScreen] = useState<Screen>({kind: 'loading'});
	const {progress, onEvent, reset} = useBackupProgress();
	const target = useRef<BackupTarget | undefined>(undefined);
	const runs = useRunController();
	const refused = context.readonly || context.backupTarget === undefined;
	const redisOffer = useMemo<RedisOffer>(() => {
		if (context.redisUrl === undefined) {
			return {offered: false, reason: 'no Redis URL is configured (--redis-url or REDIS_URL)'};
		}

		try {
			const endpoint = parseRedisUrl(context.redisUrl, '--redis-url');
			return {offered: true, destination: {display: endpoint.display, confirmationName: redisConfirmationName(endpoint)}};
		} catch (error) {
			return {offered: false, reason: asMsdbError(error).message};
		}
	}, [context.redisUrl]);

	const loadList = (notice?: string) => {
		setScreen({kind: 'loading', notice});
		const load = async () => {
			target.current ??= await openTarget(context.backupTarget, context.env);
			return listBackups(target.current);
		};

		load().then(
			catalogue => {
				setScreen(current => (current.kind === 'loading' ? {kind: 'list', catalogue, notice} : current));
			},
			(error: unknown) => {
				setScreen(current => (current.kind === 'loading' ? {kind: 'list-failed', error: asMsdbError(error)} : current));
			},
		);
	};

	useEffect(() => {
		if (!refused) {
			loadList();
		}
	}, []);

	const verify = (backup: BackupSummary) => {
		const currentTarget = target.current;
		if (!currentTarget) {
			// The list is drawn only once the target is open.
			setScreen({kind: 'verify-failed', backup, problems: [], recorded: false, error: new BugError('The restore flow lost its backup target.')});
			return;
		}

		const signal = runs.begin();
		reset();
		setScreen({kind: 'verifying', backup, cancelling: false});
		verifyBackup({target: currentTarget, id: backup.id, onEvent, signal}).then(
			({record, recordKey}) => {
				if (record.ok) {
					chooseFirst(backup);
				} else {
					setScreen({kind: 'verify-failed', backup, problems: record.problems.map(problem => problem.message), recorded: recordKey !== null});
				}
			},
			(error: unknown) => {
				if (signal.aborted) {
					loadList(`Verification of ${backup.id} cancelled; nothing was touched.`);
				} else {
					setScreen({kind: 'verify-failed', backup, problems: [], recorded: false, error: asMsdbError(error)});
				}
			},
		);
	};

	const chooseFirst = (backup: BackupSummary) => {
		if (backup.manifest.postgres) {
			setScreen({kind: 'choose-postgres', backup});
		} else if (backup.manifest.redis && redisOffer.offered) {
			setScreen({kind: 'choose-redis', backup, postgres: 'skip', liveDatabase: undefined});
		} else {
			setScreen({kind: 'nothing', backup, reason: `This backup holds only Redis, and ${redisOffer.offered ? 'no Redis part' : redisOffer.reason}.`});
		}
	};

	const afterPostgres = (backup: BackupSummary, postgres: PostgresChoice, liveDatabase: string | undefined) => {
		if (backup.manifest.redis && redisOffer.offered) {
			setScreen({kind: 'choose-redis', backup, postgres, liveDatabase});
		} else {
			setScreen({kind: 'review', plan: {backup, postgres, redis: 'skip', liveDatabase, redisDestination: undefined}});
		}
	};

	const choosePostgres = (backup: BackupSummary, choice: PostgresChoice) => {
		if (choice !== 'replace') {
			afterPostgres(backup, choice, undefined);
			return;
		}

		setScreen({kind: 'checking-name', backup});
		liveDatabaseName(context.database).then(
			live => {
				// esc may have gone back meanwhile: then the answer is no longer wanted.
				setScreen(current => {
					if (current.kind !== 'checking-name' || current.backup !== backup) {
						return current;
					}

					return backup.manifest.redis && redisOffer.offered
						? {kind: 'choose-redis', backup, postgres: 'replace', liveDatabase: live}
						: {kind: 'review', plan: {backup, postgres: 'replace', redis: 'skip', liveDatabase: live, redisDestination: undefined}};
				});
			},
			(error: unknown) => {
				setScreen(current => (current.kind === 'checking-name' && current.backup === backup ? {kind: 'name-failed', backup, error: asMsdbError(error)} : current));
			},
		);
	};

	const run = (plan: RestorePlan) => {
		const signal = runs.begin();
		reset();
		setScreen({kind: 'running', plan, cancelling: false});
		const execute = async () => {
			const currentTarget = target.current ?? (await openTarget(context.backupTarget, context.env));
			const components = planComponents(plan);
			const redis = components.includes('redis') ? await openRedis(context.redisUrl, context.env, 'msdb:console-restore') : undefined;
			try {
				return await restoreBackup({
					target: currentTarget,
					id: plan.backup.id,
					manifest: plan.backup.manifest,
					components,
					into: plan.postgres === 'replace' ? 'replace' : 'new',
					confirm: planConfirmations(plan).map(confirmation => confirmation.expected),
					redisFlush: plan.redis === 'flush',
					database: components.includes('postgres') ? context.database : undefined,
					redis: redis ? {endpoint: redis.endpoint, client: redis.client} : undefined,
					onEvent,
					signal,
				});
			} finally {
				redis?.close();
			}
		};

		execute().then(
			result => {
				setScreen({kind: 'summary', plan, result});
			},
			(error: unknown) => {
				setScreen({...runEnd(error, signal), plan});
			},
		);
	};

	/** The question the review answered last: Redis when it was asked, else PostgreSQL. */
	const backFromReview = (plan: RestorePlan) => {
		if (plan.backup.manifest.redis && redisOffer.offered) {
			setScreen({kind: 'choose-redis', backup: plan.backup, postgres: plan.postgres, liveDatabase: plan.liveDatabase});
		} else if (plan.backup.manifest.postgres) {
			setScreen({kind: 'choose-postgres', backup: plan.backup});
		} else {
			loadList();
		}
	};

	useInput(
		(_input, key) => {
			if (key.return) {
				if (screen.kind === 'review') {
					if (planConfirmations(screen.plan).length > 0) {
						setScreen({kind: 'confirm', plan: screen.plan, index: 0});
					} else {
						run(screen.plan);
					}
				} else if (screen.kind === 'summary') {
					exit({status: 'done', summary: summaryLine(screen.result)});
				}

				return;
			}

			if (!key.escape) {
				return;
			}

			switch (screen.kind) {
				case 'loading':
				case 'list': {
					exit({status: 'cancelled', summary: 'restore: nothing was changed'});
					break;
				}

				case 'list-failed': {
					exit({status: 'failed', summary: `restore: could not list the backups: ${redact(screen.error.message.split('\n')[0] ?? '')}`});
					break;
				}

				case 'verifying': {
					runs.cancel(screen, setScreen);
					break;
				}

				case 'verify-failed':
				case 'nothing':
				case 'choose-postgres': {
					loadList();
					break;
				}

				case 'checking-name':
				case 'name-failed': {
					setScreen({kind: 'choose-postgres', backup: screen.backup});
					break;
				}

				case 'choose-redis': {
					if (screen.backup.manifest.postgres) {
						setScreen({kind: 'choose-postgres', backup: screen.backup});
					} else {
						loadList();
					}

					break;
				}

				case 'review': {
					backFromReview(screen.plan);
					break;
				}

				case 'confirm': {
					// TypedConfirmation owns esc on this screen.
					break;
				}

				case 'running': {
					runs.cancel(screen, setScreen);
					break;
				}

				case 'summary': {
					exit({status: 'done', summary: summaryLine(screen.result)});
					break;
				}

				case 'failed': {
					exit({status: 'failed', summary: `restore of ${screen.plan.backup.id} failed: ${redact(screen.error.message.split('\n')[0] ?? '')}`});
					break;
				}

				case 'cancelled': {
					exit({status: 'cancelled', summary: `restore of ${screen.plan.backup.id} cancelled`});
					break;
				}
			}
		},
		{isActive: !refused && screen.kind !== 'confirm'},
	);

	if (context.readonly) {
		return <ReadonlyRefusal onBack={() => exit({status: 'cancelled', summary: 'restore is not offered in read-only mode'})} />;
	}

	if (context.backupTarget === undefined) {
		return <NoBackupTarget action="restore" onBack={() => exit({status: 'cancelled', summary: 'no backup target configured'})} />;
	}

	switch (screen.kind) {
		case 'loading': {
			return (
				<Frame step={0} explanation="Reading the manifests in the backup target; nothing is changed." keys={[{key: 'esc', label: 'back'}]}>
					<Spinner label={`Listing the backups in ${redact(context.backupTarget)}…`} />
				</Frame>
			);
		}

		case 'list-failed': {
			return (
				<Frame step={0} explanation="The backup target could not be read; nothing was changed." keys={[{key: 'esc', label: 'back'}]}>
					<ErrorView error={screen.error} />
				</Frame>
			);
		}

		case 'list': {
			const empty = screen.catalogue.backups.length === 0;
			return (
				<Frame
					step={0}
					explanation="Choose the backup to restore, usually the newest one from before the incident. Choosing it only verifies it; nothing is changed yet."
					keys={empty ? [{key: 'esc', label: 'back'}] : [{key: '↑/↓', label: 'move'}, {key: 'enter', label: 'verify this backup'}, {key: 'esc', label: 'back'}]}
				>
					{screen.notice ? <Text color="yellow">{screen.notice}</Text> : undefined}
					{empty ? (
						<Text>
							There are no backups in {redact(target.current?.display ?? context.backupTarget)} yet. Take one with b in the console, or `msdb backup create`.
						</Text>
					) : (
						<RestoreBackupList catalogue={screen.catalogue} visibleRows={Math.max(3, height - 14)} onChoose={verify} />
					)}
				</Frame>
			);
		}

		case 'verifying': {
			return (
				<Frame
					step={1}
					explanation={`Verifying ${screen.backup.id}: every artifact is re-read and re-hashed, and the archives are checked. This reads the backup only; no database or Redis is touched.`}
					keys={screen.cancelling ? [] : [{key: 'esc', label: 'stop verifying'}]}
				>
					<BackupProgressView progress={progress} width={width} />
					{screen.cancelling ? <Spinner label="Stopping the verification…" /> : undefined}
				</Frame>
			);
		}

		case 'verify-failed': {
			return (
				<Frame step={1} explanation="The backup did not pass verification, so the restore stops here." keys={[{key: 'esc', label: 'back to the list'}]}>
					<Text color="red">✖ Backup {screen.backup.id} failed verification. Nothing was touched: no database or Redis was changed.</Text>
					{screen.problems.map(problem => (
						<Text key={problem} color="red">
							{'  '}
							{redact(problem)}
						</Text>
					))}
					{screen.error ? <ErrorView error={screen.error} /> : undefined}
					<Text color="yellow">
						→ Restore an earlier backup (esc, then choose it), or investigate with `msdb backup verify {screen.backup.id}`.
						{screen.recorded ? ' The failed result is recorded beside the manifest, so the list shows it.' : ''}
					</Text>
				</Frame>
			);
		}

		case 'nothing': {
			return (
				<Frame step={2} explanation="There is nothing in this backup the console can restore here." keys={[{key: 'esc', label: 'back to the list'}]}>
					<Text color="yellow">{redact(screen.reason)} Nothing was changed.</Text>
				</Frame>
			);
		}

		case 'choose-postgres': {
			const {backup} = screen;
			const postgres = backup.manifest.postgres;
			const options: Array<RestoreOption<PostgresChoice>> = [
				{value: 'new', label: 'New database beside the live one: nothing else changes (recommended)'},
				{value: 'replace', label: 'Replace the live database: the restored copy takes its name, the current one is kept aside (type its name to confirm)'},
				...(backup.manifest.redis && redisOffer.offered ? [{value: 'skip' as const, label: 'Leave PostgreSQL out: restore Redis only'}] : []),
			];
			return (
				<Frame
					step={2}
					explanation="Choose where the PostgreSQL data goes. A new database is the safe default: compare, then switch over when you are sure."
					keys={[{key: '↑/↓', label: 'move'}, {key: 'enter', label: 'choose'}, {key: 'esc', label: 'back to the list'}]}
				>
					<Text color="green">{VERIFIED_LINE}</Text>
					<RestoreChoice
						question={`PostgreSQL: database "${postgres?.database ?? '?'}" (PostgreSQL ${postgres?.serverVersion ?? '?'}) from backup ${backup.id}. Restore it into…`}
						options={options}
						notes={[`Server: ${redact(context.database.display)}`]}
						onChoose={choice => choosePostgres(backup, choice)}
					/>
				</Frame>
			);
		}

		case 'checking-name': {
			return (
				<Frame step={2} explanation="Asking the server which database a replace would swap out; nothing is changed." keys={[{key: 'esc', label: 'back'}]}>
					<Spinner label={`Reading the live database's name on ${redact(context.database.display)}…`} />
				</Frame>
			);
		}

		case 'name-failed': {
			return (
				<Frame step={2} explanation="The server could not be asked which database a replace would swap out; nothing was changed." keys={[{key: 'esc', label: 'back'}]}>
					<ErrorView error={screen.error} />
				</Frame>
			);
		}

		case 'choose-redis': {
			const destination = redisOffer.offered ? redisOffer.destination.display : '?';
			const options: Array<RestoreOption<RedisChoice>> = [
				{value: 'merge', label: `Replay the backup's keys into ${destination}: same-named keys are overwritten, other keys stay`},
				{value: 'flush', label: `Empty ${destination} first (FLUSHALL), then replay (type its address to confirm)`},
				...(screen.postgres === 'skip' ? [] : [{value: 'skip' as const, label: 'Leave Redis out'}]),
			];
			const keys = Object.values(screen.backup.manifest.redis?.keysPerDatabase ?? {}).reduce((sum, count) => sum + count, 0);
			return (
				<Frame
					step={2}
					explanation="Choose what happens to Redis. Keys are replayed with RESTORE … ABSTTL, so expiries stay as they were."
					keys={[{key: '↑/↓', label: 'move'}, {key: 'enter', label: 'choose'}, {key: 'esc', label: 'back'}]}
				>
					{screen.backup.manifest.postgres ? undefined : <Text color="green">{VERIFIED_LINE}</Text>}
					<RestoreChoice
						question={`Redis: ${keys} key(s) (Redis ${screen.backup.manifest.redis?.serverVersion ?? '?'}) from backup ${screen.backup.id}.`}
						options={options}
						onChoose={choice => {
							setScreen({
								kind: 'review',
								plan: {
									backup: screen.backup,
									postgres: screen.postgres,
									redis: choice,
									liveDatabase: screen.liveDatabase,
									redisDestination: redisOffer.offered ? redisOffer.destination : undefined,
								},
							});
						}}
					/>
				</Frame>
			);
		}

		case 'review': {
			const {plan} = screen;
			const confirmations = planConfirmations(plan);
			return (
				<Frame
					step={3}
					explanation="Read what will happen. The restore verifies each artifact again right before using it and changes nothing if that fails."
					keys={[
						{key: 'enter', label: confirmations.length > 0 ? 'continue: type the name to confirm' : 'start the restore'},
						{key: 'esc', label: 'back'},
					]}
				>
					{screen.notice ? <Text color="yellow">{screen.notice}</Text> : undefined}
					<Text bold>Backup {plan.backup.id}</Text>
					{describePlan(plan).map(line => (
						<Text key={line}>• {redact(line)}</Text>
					))}
					{plan.backup.manifest.redis && !redisOffer.offered ? <Text color="gray">• Redis: not offered: {redact(redisOffer.reason)}.</Text> : undefined}
					{confirmations.length > 0 ? (
						<Text color="red">
							This is destructive: you will type {confirmations.map(confirmation => `"${confirmation.expected}"`).join(' and then ')} to confirm.
						</Text>
					) : (
						<Text color="green">Nothing existing is replaced or emptied.</Text>
					)}
				</Frame>
			);
		}

		case 'confirm': {
			const {plan, index} = screen;
			const confirmation = planConfirmations(plan)[index];
			if (!confirmation) {
				return null;
			}

			const prompt =
				confirmation.kind === 'replace'
					? `This REPLACES the live database "${confirmation.expected}": its sessions are ended and the restored copy takes its name. The current data stays as ${confirmation.expected}_pre_restore_<time>, so you can switch back.`
					: `This EMPTIES every database of the Redis at ${redact(plan.redisDestination?.display ?? confirmation.expected)} (FLUSHALL) before the backup's keys are replayed. Keys that are not in the backup are lost.`;
			return (
				<Box flexDirection="column" gap={1}>
					<RestoreSteps current={3} explanation="Type the name exactly to allow this step; esc goes back and changes nothing." />
					<TypedConfirmation
						key={`${confirmation.kind}:${index}`}
						expected={confirmation.expected}
						prompt={prompt}
						onConfirm={() => {
							if (index + 1 < planConfirmations(plan).length) {
								setScreen({kind: 'confirm', plan, index: index + 1});
							} else {
								run(plan);
							}
						}}
						onCancel={() => setScreen({kind: 'review', plan, notice: 'Not confirmed: nothing was changed.'})}
					/>
				</Box>
			);
		}

		case 'running': {
			return (
				<Frame
					step={4}
					explanation="Restoring: each artifact is verified again, then restored. A cancel stops it cleanly: a half-restored database is dropped and the live one is not touched."
					keys={screen.cancelling ? [] : [{key: 'esc', label: 'cancel the restore'}]}
				>
					<BackupProgressView progress={progress} width={width} />
					{screen.cancelling ? <Spinner label="Cancelling: stopping the restore and dropping what it created…" /> : undefined}
				</Frame>
			);
		}

		case 'summary': {
			return (
				<Frame step={5} explanation="The restore finished; the checks compare what was restored with the counts in the manifest." keys={[{key: 'enter', label: 'done'}, {key: 'esc', label: 'back'}]}>
					<RestoreSummary plan={screen.plan} result={screen.result} />
				</Frame>
			);
		}

		case 'failed': {
			return (
				<Frame step={4} explanation="The restore failed; the message says what was and was not changed." keys={[{key: 'esc', label: 'back'}]}>
					<ErrorView error={screen.error} />
				</Frame>
			);
		}

		case 'cancelled': {
			return (
				<Frame step={4} explanation="The restore was cancelled; the message says what was kept." keys={[{key: 'esc', label: 'back'}]}>
					<Text color="yellow">{redact(screen.error.message)}</Text>
					{screen.plan.postgres === 'replace' ? <Text>The live database was not replaced.</Text> : undefined}
				</Frame>
			);
		}
	}
}

/** A restore screen: the steps header, the body, and the keys that work now. */
function Frame({step, explanation, keys, children}: {step: RestoreStepIndex; explanation: string; keys: KeyHint[]; children: ReactNode}) {
	return (
		<Box flexDirection="column" gap={1}>
			<RestoreSteps current={step} explanation={explanation} />
			<Box flexDirection="column">{children}</Box>
			{keys.length > 0 ? <KeyFooter keys={keys} /> : <Text color="gray">No keys work while it stops; this takes a moment.</Text>}
		</Box>
	);
}

function ReadonlyRefusal({onBack}: {onBack: () => void}) {
	useInput((_input, key) => {
		if (key.escape) {
			onBack();
		}
	});
	return (
		<Box flexDirection="column" gap={1}>
			<Text color="yellow">Restore is not offered: the console runs with --readonly. A restore creates or replaces databases and writes Redis keys. Nothing was done.</Text>
			<Text>To restore, start the console without --readonly, or run `msdb restore &lt;id&gt;`.</Text>
			<KeyFooter keys={[{key: 'esc', label: 'back'}]} />
		</Box>
	);
}

function summaryLine(result: RestoreBackupResult): string {
	const parts = [
		...(result.postgres ? [`PostgreSQL into "${result.postgres.database}"${result.postgres.asideDatabase ? ` (previous kept as "${result.postgres.asideDatabase}")` : ''}`] : []),
		...(result.redis ? [`${result.redis.restored} Redis key(s)`] : []),
	];
	return `restored backup ${result.id}: ${parts.join(', ')}${result.problems.length > 0 ? `; ${result.problems.length} count difference(s)` : ''}`;
}
