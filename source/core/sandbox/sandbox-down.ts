import {rm} from 'node:fs/promises';
import {ActionableError} from '../errors.js';
import {dockerSandboxDown} from './docker-sandbox.js';
import {stopSandboxPostgres} from './local-sandbox-postgres.js';
import {stopSandboxRedis} from './local-sandbox-redis.js';
import {stopSandboxS3} from './local-sandbox-s3.js';
import {sandboxPaths} from './sandbox-paths.js';
import type {SandboxContext} from './sandbox-service.js';
import {readSandboxState, SANDBOX_SERVICES, writeSandboxState, type SandboxServiceName, type SandboxState} from './sandbox-state.js';
import {describeSandbox, probeSandbox, type SandboxStatus} from './sandbox-status.js';
import type {SandboxOptions} from './sandbox-up.js';

/** What `sandboxDown` takes. */
export type SandboxDownOptions = SandboxOptions & {
	/** Also delete `.msdb/sandbox/` (every service's data, logs, state); Docker: `down -v`. */
	purge?: boolean;
};

/** `down`'s answer: the status afterwards, which services this call stopped, and whether the data was deleted. */
export type SandboxDownResult = SandboxStatus & {stopped: SandboxServiceName[]; purged: boolean};

async function stopLocally(context: SandboxContext, state: SandboxState | undefined): Promise<SandboxServiceName[]> {
	const services = state?.services ?? {};
	// PostgreSQL is found from its postmaster.pid, so it is stopped even without a state file.
	const stoppedPids = await Promise.all([
		stopSandboxPostgres(context),
		stopSandboxRedis(context, services.redis?.port, services.redis?.pid),
		stopSandboxS3(context, services.s3?.pid),
	]);
	return SANDBOX_SERVICES.filter((_service, index) => stoppedPids[index] !== undefined);
}

/**
 * `msdb sandbox down`: stops the sandbox's services and keeps their data (the next `up` finds it
 * again, on the same ports); with `purge`, deletes `<cwd>/.msdb/sandbox/` too — data, logs and
 * state. Nothing running is fine (exit 0): `down` makes sure nothing runs.
 */
export async function sandboxDown(options: SandboxDownOptions): Promise<SandboxDownResult> {
	const context: SandboxContext = {
		paths: sandboxPaths(options.cwd),
		env: options.env ?? process.env,
		report: message => options.onEvent?.({type: 'status', message}),
		signal: options.signal,
	};
	const purge = options.purge ?? false;
	const state = await readSandboxState(context.paths);
	let stopped: SandboxServiceName[];
	if (state?.backend === 'docker') {
		const before = await probeSandbox(context, state);
		await dockerSandboxDown(context, state.composeFile, purge);
		stopped = SANDBOX_SERVICES.filter(service => before[service].up);
	} else {
		stopped = await stopLocally(context, state);
	}

	if (purge) {
		// Only once nothing runs on it: deleting a live server's files would corrupt, not stop, it.
		const after = await probeSandbox(context, state);
		const running = SANDBOX_SERVICES.filter(service => after[service].pid !== null || after[service].up);
		if (running.length > 0) {
			throw new ActionableError('E_SERVICE_UNAVAILABLE', `Not deleting ${context.paths.root}: ${running.join(', ')} still running.`, {
				nextStep: 'Run `msdb sandbox status` to see what runs, stop it, then `msdb sandbox down --purge` again.',
			});
		}

		context.report(`deleting ${context.paths.root}`);
		await rm(context.paths.root, {recursive: true, force: true});
	} else if (state) {
		// The ports stay recorded (the next `up` reuses them, so URLs do not change); the pids go.
		const services = Object.fromEntries(Object.entries(state.services).map(([name, service]) => [name, {port: service.port}]));
		await writeSandboxState(context.paths, {...state, services});
	}

	const remaining = purge ? undefined : await readSandboxState(context.paths);
	return {...describeSandbox(context, remaining, await probeSandbox(context, remaining)), stopped, purged: purge};
}
