import {execa} from 'execa';
import type {Readable, Writable} from 'node:stream';
import {OutputTail} from './output-tail.js';

/** How one run of pg_dump / pg_restore ended. */
export type PgToolOutcome = {
	ok: boolean;
	/** `exit code 1`, `signal SIGTERM`, `cancelled`, or the spawn error. */
	description: string;
	/** The program's stderr (its last 16 KiB), redacted. */
	stderr: string;
	cancelled: boolean;
};

/** A started pg_dump / pg_restore: its pipes, and a promise of how it ended that never rejects. */
export type PgToolRun = {
	stdin: Writable | null;
	stdout: Readable | null;
	finished: Promise<PgToolOutcome>;
	/** Stops the program (SIGTERM, then SIGKILL after a grace period). Safe to call any time. */
	kill(): void;
};

/** After SIGTERM, how long a program gets to clean up (close its connection) before SIGKILL. */
const FORCE_KILL_AFTER_MS = 5000;

/**
 * Starts a PostgreSQL client program with a prepared environment (the connection, password
 * included, travels there: see libpq-environment.ts, never in `args`). stdin/stdout are pipes the
 * caller streams through, never buffered here, so memory stays flat whatever the size; stderr is
 * kept (its tail) for the error message. `signal` kills the program.
 */
export function runPgTool(
	program: string,
	args: readonly string[],
	options: {env: NodeJS.ProcessEnv; stdin: 'pipe' | 'ignore'; stdout: 'pipe' | 'ignore'; signal?: AbortSignal | undefined},
): PgToolRun {
	const subprocess = execa(program, args, {
		env: options.env,
		extendEnv: false,
		stdin: options.stdin,
		stdout: options.stdout,
		stderr: 'pipe',
		buffer: false,
		reject: false,
		// Backups run for hours; nothing but the caller's signal may end them.
		timeout: 0,
		forceKillAfterDelay: FORCE_KILL_AFTER_MS,
		...(options.signal ? {cancelSignal: options.signal} : {}),
	});
	const stderr = new OutputTail().follow(subprocess.stderr);
	const finished = (async (): Promise<PgToolOutcome> => {
		const result = await subprocess;
		const cancelled = Boolean(result.isCanceled) || Boolean(options.signal?.aborted);
		// EPIPE on stdin (a program that stopped reading, like pg_restore --list) is not a failure:
		// only the program's own exit status is.
		const ok = result.exitCode === 0 && !cancelled;
		const description = cancelled
			? 'cancelled'
			: result.exitCode !== undefined
				? `exit code ${result.exitCode}`
				: result.signal
					? `signal ${result.signal}`
					: (result.originalMessage ?? 'could not be started');
		return {ok, description, stderr: stderr.text(), cancelled};
	})();
	return {
		stdin: subprocess.stdin,
		stdout: subprocess.stdout,
		finished,
		kill: () => {
			subprocess.kill();
		},
	};
}
