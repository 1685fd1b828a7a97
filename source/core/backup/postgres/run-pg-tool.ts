import {spawn, type ChildProcess} from 'node:child_process';
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

/** Programs started here and not yet ended: see stopWhenMsdbExits. */
const runningPrograms = new Set<ChildProcess>();

/**
 * A pg_dump left behind would hold its snapshot and its connection until it noticed its reader
 * was gone; a pg_restore would go on writing into the database. So whatever ends msdb (a crash,
 * process.exit) ends them too. One listener for all of them: a drill runs several.
 */
function stopWhenMsdbExits(child: ChildProcess): void {
	if (!process.listeners('exit').includes(stopRunningPrograms)) {
		process.on('exit', stopRunningPrograms);
	}

	runningPrograms.add(child);
}

function stopRunningPrograms(): void {
	for (const child of runningPrograms) {
		child.kill('SIGTERM');
	}
}

/**
 * Starts a PostgreSQL client program with a prepared environment (the connection, password
 * included, travels there: see libpq-environment.ts, never in `args`). stdin/stdout are pipes the
 * caller streams through, never buffered here, so memory stays flat whatever the size; stderr is
 * kept (its tail) for the error message. `signal` kills the program, and so does msdb exiting.
 *
 * node:child_process rather than execa (which the one-shot runs of provision/run-command.ts do
 * without too): execa is 105 modules that took 23 ms to load, an eighth of what a backup may
 * spend beyond pg_dump's own time (npm run bench), and this needs none of what it adds.
 */
export function runPgTool(
	program: string,
	args: readonly string[],
	options: {env: NodeJS.ProcessEnv; stdin: 'pipe' | 'ignore'; stdout: 'pipe' | 'ignore'; signal?: AbortSignal | undefined},
): PgToolRun {
	const child = spawn(program, args, {env: options.env, stdio: [options.stdin, options.stdout, 'pipe']});
	const stderr = new OutputTail().follow(child.stderr);
	let cancelled = false;
	let forceKill: NodeJS.Timeout | undefined;
	const running = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
	const kill = () => {
		if (running() && forceKill === undefined) {
			child.kill('SIGTERM');
			forceKill = setTimeout(() => child.kill('SIGKILL'), FORCE_KILL_AFTER_MS);
		}
	};

	const onAbort = () => {
		cancelled = true;
		kill();
	};

	stopWhenMsdbExits(child);
	if (options.signal?.aborted) {
		onAbort();
	} else {
		options.signal?.addEventListener('abort', onAbort, {once: true});
	}

	let startError: Error | undefined;
	// Without a listener, a program that cannot be started (ENOENT, EACCES) would crash msdb.
	child.once('error', error => {
		startError ??= error;
	});
	// 'close', not 'exit': the outcome comes after the program's pipes are drained, so its stderr
	// tail is whole.
	const finished = new Promise<PgToolOutcome>(resolve => {
		child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
			clearTimeout(forceKill);
			runningPrograms.delete(child);
			options.signal?.removeEventListener('abort', onAbort);
			// EPIPE on stdin (a program that stopped reading, like pg_restore --list) is not a failure:
			// only the program's own exit status is.
			const wasCancelled = cancelled || Boolean(options.signal?.aborted);
			const description = wasCancelled
				? 'cancelled'
				: startError && child.pid === undefined
					? `could not be started (${startError.message})`
					: code !== null
						? `exit code ${code}`
						: `signal ${signal ?? 'unknown'}`;
			resolve({ok: code === 0 && !wasCancelled && child.pid !== undefined, description, stderr: stderr.text(), cancelled: wasCancelled});
		});
	});
	return {
		stdin: child.stdin,
		stdout: child.stdout,
		finished,
		kill,
	};
}
