import {existsSync} from 'node:fs';
import {readFile} from 'node:fs/promises';
import {setTimeout as sleep} from 'node:timers/promises';

/*
 * The sandbox's servers are detached daemons that outlive the command that started them, so
 * later commands find them again by pid. A pid in a state file may have been reused by an
 * unrelated process since (after a reboot, say), so nothing is signalled before its command line
 * says it is ours.
 */

/** True when a process with this pid exists (EPERM: it exists but belongs to another user). */
export function isProcessAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

// Linux has /proc; elsewhere (macOS) a live pid is all we can check.
const hasProc = existsSync('/proc/self/cmdline');

/**
 * The command line of a process, from /proc; `''` for a zombie or a process that is gone,
 * undefined where there is no /proc, so callers fall back to trusting the pid.
 */
async function commandLineOf(pid: number): Promise<string | undefined> {
	if (!hasProc) {
		return undefined;
	}

	try {
		return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ').trim();
	} catch {
		return '';
	}
}

/** True when `pid` is alive and (where /proc tells) its command line contains `marker`. */
export async function isOurProcess(pid: number | undefined, marker: string): Promise<boolean> {
	if (pid === undefined || !Number.isInteger(pid) || pid <= 0 || !isProcessAlive(pid)) {
		return false;
	}

	const commandLine = await commandLineOf(pid);
	return commandLine === undefined || commandLine.includes(marker);
}

/** Waits until the process is gone; false if it is still there after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	while (isProcessAlive(pid)) {
		// A zombie (exited, not yet reaped by its parent) is gone for our purposes.
		if ((await commandLineOf(pid)) === '') {
			return true;
		}

		if (Date.now() >= deadline) {
			return false;
		}

		await sleep(50);
	}

	return true;
}

/**
 * SIGTERM (the orderly shutdown of redis-server and the s3rver process: Redis flushes its
 * append-only file), then SIGKILL if it is still there after `timeoutMs`.
 */
export async function terminateProcess(pid: number, timeoutMs = 15_000): Promise<void> {
	try {
		process.kill(pid, 'SIGTERM');
	} catch {
		return;
	}

	if (!(await waitForExit(pid, timeoutMs))) {
		try {
			process.kill(pid, 'SIGKILL');
		} catch {
			return;
		}

		await waitForExit(pid, 5000);
	}
}
