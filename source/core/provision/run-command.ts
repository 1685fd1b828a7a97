import {spawn} from 'node:child_process';
import type {OsUser} from './os-user.js';

export type RunCommandOptions = {
	cwd: string;
	env?: NodeJS.ProcessEnv;
	/** Drop privileges to this user (we must be root). */
	runAs?: OsUser;
	timeoutMs?: number;
};

export type RunCommandResult = {
	/** True when the command exited with status 0. */
	ok: boolean;
	/** `exit code 1`, `signal SIGKILL`, `timed out after 120 s`, or the spawn error. */
	outcome: string;
	/** stdout and stderr interleaved, capped to the last 64 KiB. */
	output: string;
};

const OUTPUT_LIMIT = 64 * 1024;

/**
 * Runs a one-shot command (initdb, `--version`) to completion. Never rejects: the caller turns
 * the outcome into an error that says which step failed and shows the output.
 */
export async function runCommand(
	command: string,
	args: readonly string[],
	options: RunCommandOptions,
): Promise<RunCommandResult> {
	const timeoutMs = options.timeoutMs ?? 120_000;
	return new Promise(resolve => {
		let output = '';
		let timedOut = false;
		let settled = false;
		const finish = (ok: boolean, outcome: string) => {
			if (!settled) {
				settled = true;
				clearTimeout(timer);
				resolve({ok, outcome, output});
			}
		};

		const child = spawn(command, args, {
			cwd: options.cwd,
			env: options.env ?? process.env,
			stdio: ['ignore', 'pipe', 'pipe'],
			...(options.runAs ? {uid: options.runAs.uid, gid: options.runAs.gid} : {}),
		});
		const collect = (chunk: Buffer) => {
			output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
		};

		child.stdout.on('data', collect);
		child.stderr.on('data', collect);
		const timer = setTimeout(() => {
			timedOut = true;
			child.kill('SIGKILL');
		}, timeoutMs);
		child.on('error', error => {
			finish(false, `could not start: ${error.message}`);
		});
		child.on('close', (code, signal) => {
			if (timedOut) {
				finish(false, `timed out after ${Math.round(timeoutMs / 1000)} s`);
			} else if (code === 0) {
				finish(true, 'exit code 0');
			} else {
				finish(false, signal ? `signal ${signal}` : `exit code ${String(code)}`);
			}
		});
	});
}

/**
 * `<name> failed (<outcome>):` and the last 25 lines of its output, unredacted: the end of the
 * output is where initdb and pg_basebackup say why, and all of it would bury that.
 */
export function commandFailureText(name: string, result: RunCommandResult): string {
	return `${name} failed (${result.outcome}):\n${result.output.trim().split('\n').slice(-25).join('\n')}`;
}
