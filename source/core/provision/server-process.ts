import {spawn, type ChildProcess} from 'node:child_process';
import {setTimeout as sleep} from 'node:timers/promises';
import {ActionableError} from '../errors.js';
import {redact} from '../redact.js';
import {registerExitCleanup} from './exit-cleanup.js';
import type {OsUser} from './os-user.js';

export type ServerProcessOptions = {
	/** Short name for messages: `postgres`, `redis-server`. */
	name: string;
	command: string;
	args: readonly string[];
	cwd: string;
	env?: NodeJS.ProcessEnv;
	/** Drop privileges to this user (we must be root). */
	runAs?: OsUser;
	/** The signal asking for an orderly shutdown (postgres: SIGINT, "fast"; redis: SIGTERM). */
	stopSignal: NodeJS.Signals;
	/** The signal sent from the process 'exit' hook, where we cannot wait (postgres: SIGQUIT). */
	exitSignal: NodeJS.Signals;
};

export type WaitUntilReadyOptions = {
	timeoutMs: number;
	intervalMs?: number;
	/** Shown as the error's next step when the server does not come up. */
	nextStep: string;
};

const LOG_TAIL_CHARACTERS = 16 * 1024;
const LOG_TAIL_LINES = 25;

/**
 * A server running as our child process (never daemonized), so it cannot outlive us
 * unnoticed: it is killed from the process 'exit' hook if nobody stopped it. Its output is
 * kept as a short tail for error messages.
 *
 * The child and its pipes are unref'd: a forgotten `stop()` must not keep Node alive, the
 * exit hook takes care of the server instead.
 */
export class ServerProcess {
	/** Spawns the server; does not wait for it to be ready (see {@link waitUntilReady}). */
	static start(options: ServerProcessOptions): ServerProcess {
		return new ServerProcess(options);
	}

	readonly name: string;
	private readonly child: ChildProcess;
	private readonly options: ServerProcessOptions;
	private readonly exited: Promise<void>;
	private exitSummary: string | undefined;
	private log = '';
	private readonly unregisterExitCleanup: () => void;

	private constructor(options: ServerProcessOptions) {
		this.name = options.name;
		this.options = options;
		this.child = spawn(options.command, options.args, {
			cwd: options.cwd,
			env: options.env ?? process.env,
			stdio: ['ignore', 'pipe', 'pipe'],
			...(options.runAs ? {uid: options.runAs.uid, gid: options.runAs.gid} : {}),
		});
		const collect = (chunk: Buffer) => {
			this.log = (this.log + chunk.toString('utf8')).slice(-LOG_TAIL_CHARACTERS);
		};

		this.child.stdout?.on('data', collect);
		this.child.stderr?.on('data', collect);
		this.exited = new Promise(resolve => {
			// 'error' covers spawn failures (ENOENT, EPERM), which never emit 'exit'.
			this.child.once('error', error => {
				this.exitSummary ??= `could not start: ${error.message}`;
				resolve();
			});
			this.child.once('exit', (code, signal) => {
				this.exitSummary ??= signal ? `killed by ${signal}` : `exited with code ${String(code)}`;
				resolve();
			});
		});
		this.unregisterExitCleanup = registerExitCleanup(() => {
			if (this.exitSummary === undefined) {
				this.child.kill(options.exitSignal);
			}
		});
		this.child.unref();
		for (const stream of [this.child.stdout, this.child.stderr]) {
			(stream as (NodeJS.ReadableStream & {unref?: () => void}) | null)?.unref?.();
		}
	}

	get pid(): number | undefined {
		return this.child.pid;
	}

	/** Set once the process has gone: `exited with code 1`, `killed by SIGKILL` … */
	get exitDescription(): string | undefined {
		return this.exitSummary;
	}

	/** The last lines the server printed (stdout and stderr), for error messages. */
	logTail(lines = LOG_TAIL_LINES): string {
		return this.log.trimEnd().split('\n').slice(-lines).join('\n');
	}

	/**
	 * Polls `check` until it resolves, failing fast if the process exits and after `timeoutMs`
	 * with the server's log tail in the message (that is where the reason is).
	 */
	async waitUntilReady(check: () => Promise<void>, options: WaitUntilReadyOptions): Promise<void> {
		const deadline = Date.now() + options.timeoutMs;
		let lastError: unknown;
		for (;;) {
			if (this.exitSummary !== undefined) {
				throw this.startupError(`${this.name} ${this.exitSummary} before it was ready.`, options, lastError);
			}

			try {
				await check();
				return;
			} catch (error) {
				lastError = error;
			}

			if (Date.now() >= deadline) {
				throw this.startupError(
					`${this.name} did not answer within ${Math.round(options.timeoutMs / 1000)} s.`,
					options,
					lastError,
				);
			}

			await sleep(options.intervalMs ?? 100);
		}
	}

	/** Asks for an orderly shutdown, escalates to SIGKILL after `timeoutMs`. Idempotent. */
	async stop(timeoutMs = 10_000): Promise<void> {
		if (this.exitSummary === undefined) {
			// Waiting on an unref'd child alone would let Node exit mid-stop.
			this.child.ref();
			this.child.kill(this.options.stopSignal);
			// The grace timer is cancelled once the process is gone: left running it would hold the
			// event loop open for the whole grace period.
			const grace = new AbortController();
			const stopped = await Promise.race([
				this.exited.then(() => true),
				sleep(timeoutMs, false, {signal: grace.signal}).catch(() => false),
			]);
			grace.abort();
			if (!stopped) {
				this.child.kill('SIGKILL');
				await this.exited;
			}
		}

		this.unregisterExitCleanup();
	}

	private startupError(message: string, options: WaitUntilReadyOptions, cause: unknown): ActionableError {
		const lastProblem = cause instanceof Error ? `\nLast connection error: ${cause.message}` : '';
		const tail = this.logTail();
		return new ActionableError(
			'E_SERVICE_UNAVAILABLE',
			redact(`${message}${lastProblem}${tail ? `\n--- ${this.name} log (last lines) ---\n${tail}` : ''}`),
			{nextStep: options.nextStep, cause},
		);
	}
}
