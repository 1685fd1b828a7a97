import {createHash} from 'node:crypto';
import {createInterface} from 'node:readline';
import {cancelledError} from '../../cancellation.js';
import {MsdbError} from '../../errors.js';
import type {BackupEventListener} from '../backup-events.js';
import type {PostgresManifestPart, VerificationRecord} from '../backup-manifest-types.js';
import type {BackupTarget} from '../backup-target.js';
import {ProgressMeter} from '../progress-meter.js';
import {feedStdin} from './feed-stdin.js';
import {selectPgTool} from './pg-tools.js';
import {runPgTool} from './run-pg-tool.js';

export type PostgresVerificationProblem = VerificationRecord['problems'][number];

export type PostgresArtifactVerification = {
	ok: boolean;
	/** Each names the artifact, in `artifact` and in its message. */
	problems: PostgresVerificationProblem[];
	/** Entries in the dump's table of contents (`pg_restore --list`), when it could be read. */
	tocEntries: number | null;
};

export type PostgresVerifyOptions = {
	target: BackupTarget;
	part: PostgresManifestPart;
	onEvent?: BackupEventListener | undefined;
	signal?: AbortSignal | undefined;
	pgBinDirectory?: string | undefined;
};

/**
 * Checks a stored dump without restoring it, in one read of the artifact: its size and sha256
 * against the manifest, and `pg_restore --list` fed from the same stream (the dump's header and
 * table of contents must parse: a dump cut short inside them, or not a dump at all, fails here).
 * The data blocks are covered by the hash; only a drill restores them.
 *
 * Findings come back as problems, each naming the artifact; only a cancelled run or a bug
 * throws. A missing object or an unreadable target is a problem, too: the backup is not usable.
 */
export async function verifyPostgresArtifact(options: PostgresVerifyOptions): Promise<PostgresArtifactVerification> {
	const {part, signal} = options;
	const {key} = part.artifact;
	const onEvent = options.onEvent ?? (() => {});
	const problems: PostgresVerificationProblem[] = [];
	const problem = (message: string) => problems.push({component: 'postgres', artifact: key, message: `${key}: ${message}`});
	if (part.artifact.format !== 'pg_dump-custom') {
		problem(`format "${part.artifact.format}" is not a pg_dump custom-format archive`);
		return {ok: false, problems, tocEntries: null};
	}

	const pgRestore = await selectPgTool('pg_restore', {binDirectory: options.pgBinDirectory});
	let source;
	try {
		source = await options.target.get(key, signal ? {signal} : {});
	} catch (error) {
		if (signal?.aborted) {
			throw cancelledError(`The verification of ${key} was not finished.`);
		}

		problem(`cannot be read from ${options.target.display}: ${(error as Error).message}`);
		return {ok: false, problems, tocEntries: null};
	}

	const list = runPgTool(pgRestore.path, ['--list'], {env: {...process.env}, stdin: 'pipe', stdout: 'pipe', signal});
	// Counted as it streams: a dump of 100 000 objects lists 100 000 lines, none of them kept.
	let tocEntries = 0;
	const listed = (async () => {
		if (list.stdout) {
			for await (const line of createInterface({input: list.stdout, crlfDelay: Infinity})) {
				if (line.trim() !== '' && !line.startsWith(';')) {
					tocEntries++;
				}
			}
		}
	})();
	const meter = new ProgressMeter({component: 'postgres', key, operation: 'verify', totalBytes: part.artifact.bytes}, onEvent);
	const hash = createHash('sha256');
	try {
		await feedStdin(source, list.stdin, {
			onChunk: chunk => {
				hash.update(chunk);
				meter.add(chunk.length);
			},
			signal,
		});
	} catch (error) {
		list.kill();
		await list.finished;
		if (signal?.aborted || (error instanceof MsdbError && error.code === 'E_CANCELLED')) {
			throw cancelledError(`The verification of ${key} was not finished.`);
		}

		problem(`reading it from ${options.target.display} failed after ${meter.bytes} bytes: ${(error as Error).message}`);
		return {ok: false, problems, tocEntries: null};
	}

	const outcome = await list.finished;
	await listed.catch(() => {});
	const sha256 = hash.digest('hex');
	meter.done({sha256});
	if (meter.bytes !== part.artifact.bytes) {
		problem(`size is ${meter.bytes} bytes, the manifest says ${part.artifact.bytes}`);
	}

	if (sha256 !== part.artifact.sha256) {
		problem(`sha256 is ${sha256}, the manifest says ${part.artifact.sha256}`);
	}

	if (!outcome.ok) {
		problem(`pg_restore --list cannot read it (${outcome.description})${outcome.stderr ? `: ${outcome.stderr}` : ''}`);
	}

	return {ok: problems.length === 0, problems, tocEntries: outcome.ok ? tocEntries : null};
}
