/**
 * The sandbox's S3 endpoint without Docker: s3rver in a detached Node process of its own
 * (s3-server-process.ts), objects kept in `.msdb/sandbox/s3/`.
 */
import {spawn} from 'node:child_process';
import {constants} from 'node:fs';
import {access, mkdir, open} from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import {ActionableError} from '../errors.js';
import {isOurProcess, isProcessAlive, terminateProcess} from './process-control.js';
import {findPackageRoot} from './sandbox-paths.js';
import {logSize, logTail, pickPort, pollFor, portWasTaken, startFailure, type SandboxContext, type ServiceProbe} from './sandbox-service.js';

/** The port tried first, so S3_ENDPOINT is the same on every machine that has it free. */
export const SANDBOX_S3_PORT = 59000;

const SCRIPT_NAME = 's3-server-process.js';
const PORT_ATTEMPTS = 3;
const START_TIMEOUT_MS = 20_000;
const NEXT_STEP = 'Read the log above; `msdb sandbox down --purge` starts over with fresh data; MSDB_SANDBOX_DOCKER=1 uses MinIO in Docker instead.';

/**
 * The compiled server script. Found from the package root, not next to this module: from the
 * bundle (build/bundle/) it is in another folder.
 */
async function serverScript(): Promise<string> {
	const root = findPackageRoot();
	const script = root ? path.join(root, 'build', 'core', 'sandbox', SCRIPT_NAME) : undefined;
	if (script && (await access(script, constants.R_OK).then(() => true, () => false))) {
		return script;
	}

	throw new ActionableError('E_SERVICE_UNAVAILABLE', `Cannot start the sandbox S3 server: ${script ?? `build/core/sandbox/${SCRIPT_NAME}`} is missing.`, {
		nextStep: 'Build msdb first (`npm run build`), then run `msdb sandbox up` again.',
	});
}

/** True when something answers HTTP on 127.0.0.1:`port` (s3rver and MinIO answer every path). */
export async function answersHttp(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const request = http.get({host: '127.0.0.1', port, path: '/', timeout: 2000}, response => {
			response.resume();
			resolve(true);
		});
		request.on('timeout', () => request.destroy(new Error('timeout')));
		request.on('error', () => resolve(false));
	});
}

/** Is our s3rver process (pid from the state) alive and answering on `port`? */
export async function probeSandboxS3(port: number | undefined, statePid: number | undefined): Promise<ServiceProbe> {
	if (port === undefined) {
		return {up: false, pid: null, detail: 'never started here'};
	}

	const ours = await isOurProcess(statePid, SCRIPT_NAME);
	if (!ours) {
		return {up: false, pid: null, detail: (await answersHttp(port)) ? `port ${port} answers, but not from the sandbox's s3rver process` : 'not running'};
	}

	return (await answersHttp(port))
		? {up: true, pid: statePid ?? null, detail: 'answers'}
		: {up: false, pid: statePid ?? null, detail: `pid ${statePid} is running but does not answer on port ${port}`};
}

/** Starts s3rver (detached) with `bucket`, on the first free of `preferredPorts`, else any free port. */
export async function startSandboxS3(context: SandboxContext, preferredPorts: ReadonlyArray<number | undefined>, bucket: string): Promise<{port: number; pid: number}> {
	const script = await serverScript();
	const {paths} = context;
	await mkdir(paths.s3Data, {recursive: true});
	await mkdir(paths.logs, {recursive: true});
	for (let attempt = 1; ; attempt++) {
		const port = await pickPort(preferredPorts, attempt);
		const offset = await logSize(paths.s3Log);
		context.report(`s3: starting s3rver on 127.0.0.1:${port}`);
		const log = await open(paths.s3Log, 'a');
		let exited: string | undefined;
		let pid: number | undefined;
		try {
			// Detached, in its own session, output to the log: it outlives this command and a
			// Ctrl-C in our terminal.
			const child = spawn(process.execPath, [script, paths.s3Data, String(port), bucket], {
				cwd: paths.root,
				env: context.env,
				detached: true,
				stdio: ['ignore', log.fd, log.fd],
			});
			child.on('error', error => {
				exited = `could not start: ${error.message}`;
			});
			child.on('exit', (code, signal) => {
				exited = signal ? `killed by ${signal}` : `exited with code ${String(code)}`;
			});
			child.unref();
			pid = child.pid;
		} finally {
			await log.close();
		}

		const ready = await pollFor(async () => ((await answersHttp(port)) && pid !== undefined && isProcessAlive(pid) ? pid : undefined), {
			timeoutMs: START_TIMEOUT_MS,
			signal: context.signal,
			stop: async () => exited,
		});
		if ('value' in ready) {
			return {port, pid: ready.value};
		}

		const tail = await logTail(paths.s3Log, offset);
		if (pid !== undefined && exited === undefined) {
			await terminateProcess(pid, 5000);
		}

		if (!portWasTaken(tail) || attempt >= PORT_ATTEMPTS) {
			throw startFailure('S3 server (s3rver)', `${ready.reason}.`, tail, paths.s3Log, NEXT_STEP);
		}
	}
}

/** Stops our s3rver process; returns the pid it stopped, if any. */
export async function stopSandboxS3(context: SandboxContext, statePid: number | undefined): Promise<number | undefined> {
	if (statePid === undefined || !(await isOurProcess(statePid, SCRIPT_NAME))) {
		return undefined;
	}

	context.report(`s3: stopping s3rver (pid ${statePid})`);
	await terminateProcess(statePid);
	return statePid;
}
