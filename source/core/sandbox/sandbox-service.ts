import {open, stat} from 'node:fs/promises';
import {setTimeout as sleep} from 'node:timers/promises';
import getPort from 'get-port';
import {cancelledError} from '../cancellation.js';
import {ActionableError} from '../errors.js';
import {redact} from '../redact.js';
import type {SandboxPaths} from './sandbox-paths.js';

/** What every sandbox step gets: where the sandbox lives, the environment, a way to report progress. */
export type SandboxContext = {
	paths: SandboxPaths;
	env: NodeJS.ProcessEnv;
	/** One line of progress (printed on stderr by the CLI). */
	report: (message: string) => void;
	signal?: AbortSignal | undefined;
};

/** What a probe of one service found. */
export type ServiceProbe = {
	/** It answers, and it is this sandbox's server (its data directory, its process). */
	up: boolean;
	pid: number | null;
	/** `answers`, `not running`, `port 55432 answers but serves another data directory` … */
	detail: string;
};

/** The ports a service should use, preferred first: the last one used, then the fixed default. */
export async function pickPort(preferred: ReadonlyArray<number | undefined>, attempt: number): Promise<number> {
	// get-port returns the first free port of the list, else any free port: the URL only
	// changes when the usual port is taken by something else.
	const candidates = preferred.filter((port): port is number => port !== undefined);
	return attempt === 1 && candidates.length > 0 ? getPort({port: candidates, host: '127.0.0.1'}) : getPort({host: '127.0.0.1'});
}

/** The size of a log file now (0 when missing), to read only what a start appends after it. */
export async function logSize(file: string): Promise<number> {
	try {
		return (await stat(file)).size;
	} catch {
		return 0;
	}
}

/** The last lines of a log appended after `offset` (what this start wrote), redacted. */
export async function logTail(file: string, offset = 0, lines = 25): Promise<string> {
	try {
		const handle = await open(file, 'r');
		try {
			const {size} = await handle.stat();
			const start = Math.max(offset, size - 16 * 1024);
			const buffer = Buffer.alloc(Math.max(0, size - start));
			await handle.read(buffer, 0, buffer.length, start);
			return redact(buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n'));
		} finally {
			await handle.close();
		}
	} catch {
		return '';
	}
}

/** True when a server's log says it could not bind its port. */
export function portWasTaken(log: string): boolean {
	return /address already in use|EADDRINUSE|could not bind|could not create listen/i.test(log);
}

/** An error for a service that did not come up, with its log tail (where the reason is). */
export function startFailure(service: string, problem: string, log: string, logFile: string, nextStep: string): ActionableError {
	return new ActionableError(
		'E_SERVICE_UNAVAILABLE',
		`The sandbox ${service} did not start: ${problem}${log ? `\n--- ${logFile} (last lines) ---\n${log}` : ''}`,
		{nextStep, details: {service, log: logFile}},
	);
}

/**
 * Polls `check` every 100 ms until it returns a value; `stop` may end the wait early with a
 * reason (the process exited). Resolves undefined with the last reason after `timeoutMs`.
 */
export async function pollFor<T>(
	check: () => Promise<T | undefined>,
	options: {timeoutMs: number; signal?: AbortSignal | undefined; stop?: () => Promise<string | undefined>},
): Promise<{value: T} | {reason: string}> {
	const deadline = Date.now() + options.timeoutMs;
	let lastError = '';
	for (;;) {
		if (options.signal?.aborted) {
			throw cancelledError('Services already started keep running; `msdb sandbox status` shows them, `msdb sandbox down` stops them.');
		}

		try {
			const value = await check();
			if (value !== undefined) {
				return {value};
			}
		} catch (error) {
			lastError = error instanceof Error ? error.message : String(error);
		}

		const stopped = await options.stop?.();
		if (stopped) {
			return {reason: stopped};
		}

		if (Date.now() >= deadline) {
			return {reason: `no answer within ${Math.round(options.timeoutMs / 1000)} s${lastError ? ` (last error: ${redact(lastError)})` : ''}`};
		}

		await sleep(100);
	}
}
