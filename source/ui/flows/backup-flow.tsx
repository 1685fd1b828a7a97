import {MultiSelect, Spinner} from '@inkjs/ui';
import {Box, Text, useInput} from 'ink';
import {useMemo, useState} from 'react';
import {createBackup} from '../../core/backup/create-backup.js';
import type {BackupComponent, BackupManifest} from '../../core/backup/backup-manifest-types.js';
import {asMsdbError, type MsdbError} from '../../core/errors.js';
import {redact} from '../../core/redact.js';
import {parseRedisUrl} from '../../core/redis/redis-config.js';
import {openRedis, openTarget} from '../../cli/definitions/backup-shared.js';
import {layoutTable} from '../../cli/output-blocks.js';
import {formatBytes, formatMs} from '../../cli/progress-lines.js';
import {ErrorView} from '../command-screen.js';
import {KeyFooter} from '../components/key-footer.js';
import {useExitOnce} from './backup-exit-once.js';
import {NoBackupTarget} from './backup-no-target.js';
import {useBackupProgress} from './backup-progress-state.js';
import {BackupProgressView} from './backup-progress-view.js';
import type {FlowProps} from './flow-context.js';
import {runEnd, useRunController} from './use-run-controller.js';

type Screen =
	| {kind: 'choose'; hint?: string}
	| {kind: 'running'; components: BackupComponent[]; cancelling: boolean}
	| {kind: 'done'; manifest: BackupManifest; location: string; elapsedMs: number}
	| {kind: 'cancelled'; error: MsdbError}
	| {kind: 'failed'; error: MsdbError};

/** Whether Redis can be offered, and why not when it cannot. */
type RedisOffer = {offered: true; display: string} | {offered: false; reason: string};

/**
 * The console's guided backup (key b): choose the components, watch a bar per artifact (bytes,
 * rate, ETA), then a summary with the backup's id and where it is. A backup only reads the
 * databases, so it is offered under `--readonly` too. esc before the start leaves with nothing
 * written; esc during the run cancels through the core, which removes the unfinished folder.
 */
export function BackupFlow({context, onExit, width}: FlowProps) {
	const exit = useExitOnce(onExit);
	const [screen, setScreen] = useState<Screen>({kind: 'choose'});
	const {progress, onEvent, reset} = useBackupProgress();
	const runs = useRunController();
	const redisOffer = useMemo<RedisOffer>(() => {
		if (context.redisUrl === undefined) {
			return {offered: false, reason: 'no Redis URL is configured (--redis-url or REDIS_URL)'};
		}

		try {
			return {offered: true, display: parseRedisUrl(context.redisUrl, '--redis-url').display};
		} catch (error) {
			return {offered: false, reason: asMsdbError(error).message};
		}
	}, [context.redisUrl]);

	const start = (components: BackupComponent[]) => {
		const signal = runs.begin();
		const started = performance.now();
		reset();
		setScreen({kind: 'running', components, cancelling: false});
		const run = async () => {
			const target = await openTarget(context.backupTarget, context.env);
			const redis = components.includes('redis') ? await openRedis(context.redisUrl, context.env, 'msdb:console-backup') : undefined;
			try {
				const manifest = await createBackup({
					target,
					components,
					database: components.includes('postgres') ? context.database : undefined,
					redis: redis ? {endpoint: redis.endpoint, client: redis.client, mode: 'auto'} : undefined,
					rowCounts: true,
					onEvent,
					signal,
				});
				return {manifest, location: `${target.display}/${manifest.id}/`};
			} finally {
				redis?.close();
			}
		};

		run().then(
			({manifest, location}) => {
				setScreen({kind: 'done', manifest, location, elapsedMs: performance.now() - started});
			},
			(error: unknown) => {
				setScreen(runEnd(error, signal));
			},
		);
	};

	useInput((_input, key) => {
		if (!key.escape && !(key.return && screen.kind === 'done')) {
			return;
		}

		switch (screen.kind) {
			case 'choose': {
				exit({status: 'cancelled', summary: 'backup not started; nothing was written'});
				break;
			}

			case 'running': {
				runs.cancel(screen, setScreen);
				break;
			}

			case 'done': {
				exit({status: 'done', summary: `backup ${screen.manifest.id} written to ${redact(screen.location)}`});
				break;
			}

			case 'cancelled': {
				exit({status: 'cancelled', summary: 'backup cancelled; nothing was kept'});
				break;
			}

			case 'failed': {
				exit({status: 'failed', summary: `backup failed: ${redact(screen.error.message.split('\n')[0] ?? '')}`});
				break;
			}
		}
	}, {isActive: context.backupTarget !== undefined});

	if (context.backupTarget === undefined) {
		return <NoBackupTarget action="back up" onBack={() => exit({status: 'cancelled', summary: 'no backup target configured'})} />;
	}

	switch (screen.kind) {
		case 'choose': {
			return (
				<ChooseComponents
					target={context.backupTarget}
					database={context.database.display}
					redisOffer={redisOffer}
					readonly={context.readonly}
					hint={screen.hint}
					onSubmit={components => {
						if (components.length === 0) {
							setScreen({kind: 'choose', hint: 'Choose at least one component (space selects), then press enter.'});
						} else {
							start(components);
						}
					}}
				/>
			);
		}

		case 'running': {
			return (
				<Box flexDirection="column" gap={1}>
					<Text bold>Backing up {screen.components.join(' + ')}…</Text>
					<BackupProgressView progress={progress} width={width} />
					{screen.cancelling ? (
						<Box flexDirection="column">
							<Spinner label="Cancelling: stopping the transfer and removing what was written so far…" />
							<Text color="gray">No keys work while it stops; this takes a moment.</Text>
						</Box>
					) : (
						<Box flexDirection="column">
							<Text color="gray">Cancelling is safe: the manifest is written last, and an unfinished backup folder is removed.</Text>
							<KeyFooter keys={[{key: 'esc', label: 'cancel the backup'}]} />
						</Box>
					)}
				</Box>
			);
		}

		case 'done': {
			return <BackupSummary manifest={screen.manifest} location={screen.location} elapsedMs={screen.elapsedMs} />;
		}

		case 'cancelled': {
			return (
				<Box flexDirection="column" gap={1}>
					<Text color="yellow">{redact(screen.error.message)}</Text>
					<Text>Nothing was kept: a backup exists only once its manifest is written, last, and the unfinished folder was removed.</Text>
					<KeyFooter keys={[{key: 'esc', label: 'back'}]} />
				</Box>
			);
		}

		case 'failed': {
			return (
				<Box flexDirection="column" gap={1}>
					<ErrorView error={screen.error} />
					<Text>No manifest was written, so this run is not a backup; what it had written was removed.</Text>
					<KeyFooter keys={[{key: 'esc', label: 'back'}]} />
				</Box>
			);
		}
	}
}

function ChooseComponents({
	target,
	database,
	redisOffer,
	readonly,
	hint,
	onSubmit,
}: {
	target: string;
	database: string;
	redisOffer: RedisOffer;
	readonly: boolean;
	hint: string | undefined;
	onSubmit: (components: BackupComponent[]) => void;
}) {
	const options = [
		{label: `PostgreSQL  ${database}  (pg_dump, streamed)`, value: 'postgres'},
		...(redisOffer.offered ? [{label: `Redis       ${redisOffer.display}  (RDB over replication)`, value: 'redis'}] : []),
	];
	return (
		<Box flexDirection="column" gap={1}>
			<Box flexDirection="column">
				<Text bold>Back up to {redact(target)}</Text>
				<Text color="gray">
					Choose what to back up. Each part streams straight to the target; the manifest is written last, so an interrupted run never looks like a backup.
					{readonly ? ' A backup only reads the databases, so it is allowed in read-only mode.' : ''}
				</Text>
			</Box>
			<MultiSelect options={options} defaultValue={options.map(option => option.value)} onSubmit={values => onSubmit(values as BackupComponent[])} />
			{redisOffer.offered ? undefined : <Text color="gray">Redis is not offered: {redact(redisOffer.reason)}.</Text>}
			{hint ? <Text color="yellow">{hint}</Text> : undefined}
			<KeyFooter
				keys={[
					{key: '↑/↓', label: 'move'},
					{key: 'space', label: 'select'},
					{key: 'enter', label: 'start the backup'},
					{key: 'esc', label: 'back'},
				]}
			/>
		</Box>
	);
}

function BackupSummary({manifest, location, elapsedMs}: {manifest: BackupManifest; location: string; elapsedMs: number}) {
	const rows = [
		...(manifest.postgres
			? [['postgres', manifest.postgres.artifact.key, formatBytes(manifest.postgres.artifact.bytes), `${manifest.postgres.database} (PostgreSQL ${manifest.postgres.serverVersion}, LSN ${manifest.postgres.walLsn})`]]
			: []),
		...(manifest.redis
			? [['redis', manifest.redis.artifact.key, formatBytes(manifest.redis.artifact.bytes), `${Object.values(manifest.redis.keysPerDatabase).reduce((sum, count) => sum + count, 0)} keys (Redis ${manifest.redis.serverVersion}, ${manifest.redis.mode})`]]
			: []),
	];
	const [header = '', ...lines] = layoutTable(['COMPONENT', 'ARTIFACT', 'SIZE', 'WHAT'], rows);
	return (
		<Box flexDirection="column" gap={1}>
			<Box flexDirection="column">
				<Text color="green">
					✔ Backup <Text bold>{manifest.id}</Text> written in {formatMs(elapsedMs)}.
				</Text>
				<Text>
					Location: <Text bold>{redact(location)}</Text>
				</Text>
				<Text>
					Manifest: {redact(location)}manifest.json (sha256 {manifest.manifestSha256.slice(0, 12)}…)
				</Text>
			</Box>
			<Box flexDirection="column">
				<Text bold>{header}</Text>
				{lines.map(line => (
					<Text key={line}>{redact(line)}</Text>
				))}
			</Box>
			<Text>
				Next: prove it restores with <Text bold>msdb backup verify {manifest.id} --drill</Text>, or restore it from the console (r).
			</Text>
			<KeyFooter
				keys={[
					{key: 'enter', label: 'done'},
					{key: 'esc', label: 'back'},
				]}
			/>
		</Box>
	);
}
