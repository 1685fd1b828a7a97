import {ActionableError, asMsdbError} from '../errors.js';
import {redact} from '../redact.js';
import type {StatusEvent} from '../status-event.js';
import {dockerSandboxUp, dockerUnavailableReason, findComposeFile} from './docker-sandbox.js';
import {DOCKER_SANDBOX_POSTGRES_PASSWORD} from './sandbox-credentials.js';
import {SANDBOX_BUCKET, SANDBOX_REGION, type SandboxEnvironment} from './sandbox-environment.js';
import {ensureSandboxDatabase, SANDBOX_POSTGRES_PORT, startSandboxPostgres} from './local-sandbox-postgres.js';
import {SANDBOX_REDIS_PORT, startSandboxRedis} from './local-sandbox-redis.js';
import {SANDBOX_S3_PORT, startSandboxS3} from './local-sandbox-s3.js';
import {sandboxPaths} from './sandbox-paths.js';
import {pollFor, type SandboxContext, type ServiceProbe} from './sandbox-service.js';
import {
	readSandboxState,
	SANDBOX_SERVICES,
	writeSandboxState,
	type SandboxBackend,
	type SandboxServiceName,
	type SandboxServiceState,
	type SandboxState,
} from './sandbox-state.js';
import {describeSandbox, probeSandbox, type SandboxStatus, type SandboxStatusOptions} from './sandbox-status.js';

/** What `sandboxUp` and `sandboxDown` take. */
export type SandboxOptions = SandboxStatusOptions & {
	/** Progress lines (`postgres: starting …`). */
	onEvent?: (event: StatusEvent) => void;
	/** Stops waiting; services already started keep running (and are recorded). */
	signal?: AbortSignal;
};

/** `up`'s answer: the status, and which services this call started (none when all were up). */
export type SandboxUpResult = SandboxStatus & {started: SandboxServiceName[]};

/** How long a running server that does not answer yet (still starting, replaying its log) is given. */
const SETTLE_TIMEOUT_MS = 15_000;

function contextFor(options: SandboxOptions): SandboxContext {
	return {
		paths: sandboxPaths(options.cwd),
		env: options.env ?? process.env,
		report: message => options.onEvent?.({type: 'status', message}),
		signal: options.signal,
	};
}

/**
 * Which backend: the one already recorded (a sandbox never switches under its data); else
 * MSDB_SANDBOX_DOCKER=0 (local binaries) or =1 (Docker, required); else Docker when an engine
 * answers and `docker compose` works, local binaries otherwise.
 */
async function chooseBackend(context: SandboxContext, state: SandboxState | undefined): Promise<{backend: SandboxBackend; composeFile?: string; required: boolean}> {
	const setting = context.env['MSDB_SANDBOX_DOCKER']?.trim();
	if (setting !== undefined && setting !== '' && setting !== '0' && setting !== '1') {
		throw new ActionableError('E_BAD_ARGUMENT', `MSDB_SANDBOX_DOCKER must be 0 (local binaries) or 1 (Docker), not '${setting}'.`, {
			nextStep: 'Unset it to let msdb choose (Docker when an engine answers), or set it to 0 or 1.',
		});
	}

	const wanted: SandboxBackend | undefined = setting === '0' ? 'local' : setting === '1' ? 'docker' : undefined;
	if (state) {
		if (wanted && wanted !== state.backend) {
			throw new ActionableError(
				'E_BAD_ARGUMENT',
				`The sandbox in ${context.paths.root} runs on ${state.backend === 'docker' ? 'Docker' : 'local binaries'}, but MSDB_SANDBOX_DOCKER=${setting} asks for ${wanted === 'docker' ? 'Docker' : 'local binaries'}.`,
				{nextStep: 'Unset MSDB_SANDBOX_DOCKER to keep using it, or `msdb sandbox down --purge` to start over (deletes its data).'},
			);
		}

		return {backend: state.backend, ...(state.composeFile ? {composeFile: state.composeFile} : {}), required: true};
	}

	if (wanted === 'local') {
		return {backend: 'local', required: true};
	}

	const composeFile = await findComposeFile();
	const unavailable = await dockerUnavailableReason(context, composeFile);
	if (unavailable) {
		if (wanted === 'docker') {
			throw new ActionableError('E_SERVICE_UNAVAILABLE', `MSDB_SANDBOX_DOCKER=1, but Docker cannot be used: ${unavailable}.`, {
				nextStep: 'Start Docker (or fix DOCKER_HOST), or unset MSDB_SANDBOX_DOCKER to use local binaries.',
			});
		}

		context.report(`local binaries: ${unavailable}`);
		return {backend: 'local', required: false};
	}

	return {backend: 'docker', composeFile: composeFile!, required: wanted === 'docker'};
}

/** The bucket must exist and accept the sandbox keys: HeadBucket, CreateBucket when missing. */
async function ensureBucket(env: SandboxEnvironment, context: SandboxContext): Promise<void> {
	const [{HeadBucketCommand, CreateBucketCommand}, {createS3Client}] = await Promise.all([
		import('@aws-sdk/client-s3'),
		import('../backup/targets/s3-client.js'),
	]);
	const client = createS3Client({
		region: SANDBOX_REGION,
		endpoint: env.S3_ENDPOINT,
		credentials: {accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY},
	});
	try {
		try {
			await client.send(new HeadBucketCommand({Bucket: SANDBOX_BUCKET}));
		} catch (error) {
			if ((error as {$metadata?: {httpStatusCode?: number}}).$metadata?.httpStatusCode !== 404) {
				throw error;
			}

			await client.send(new CreateBucketCommand({Bucket: SANDBOX_BUCKET}));
		}
	} catch (error) {
		throw new ActionableError('E_SERVICE_UNAVAILABLE', `The sandbox S3 endpoint ${env.S3_ENDPOINT} answers, but bucket ${SANDBOX_BUCKET} is not usable: ${redact(error instanceof Error ? error.message : String(error))}`, {
			nextStep: `Read the S3 server's log (${context.paths.s3Log} for local binaries), or \`msdb sandbox down --purge\` to start over.`,
		});
	} finally {
		client.destroy();
	}
}

/** Runs `msdb sandbox up` on Docker; returns the recorded state. */
async function upOnDocker(context: SandboxContext, composeFile: string, state: SandboxState | undefined): Promise<SandboxState> {
	const ports = await dockerSandboxUp(context, composeFile);
	const next: SandboxState = {
		version: 1,
		backend: 'docker',
		startedAt: state?.startedAt ?? new Date().toISOString(),
		services: {postgres: {port: ports.postgres}, redis: {port: ports.redis}, s3: {port: ports.s3}},
		composeFile,
	};
	await writeSandboxState(context.paths, next);
	return next;
}

/**
 * A service whose process runs but does not answer yet may be starting (Redis replaying its
 * append-only file): give it a moment rather than start a second one beside it.
 */
async function settle(context: SandboxContext, service: SandboxServiceName, probe: ServiceProbe, state: SandboxState | undefined): Promise<ServiceProbe> {
	if (probe.up || probe.pid === null) {
		return probe;
	}

	context.report(`${service}: ${probe.detail}; waiting for it`);
	const settled = await pollFor(
		async () => {
			const again = (await probeSandbox(context, state))[service];
			return again.up ? again : undefined;
		},
		{timeoutMs: SETTLE_TIMEOUT_MS, signal: context.signal},
	);
	if ('value' in settled) {
		return settled.value;
	}

	throw new ActionableError('E_SERVICE_UNAVAILABLE', `The sandbox ${service} runs (pid ${probe.pid}) but does not answer: ${probe.detail}.`, {
		nextStep: `Read its log in ${context.paths.logs}; \`msdb sandbox down\` stops it, then \`msdb sandbox up\` starts it again.`,
	});
}

async function startLocal(context: SandboxContext, service: SandboxServiceName, previous: SandboxServiceState | undefined): Promise<SandboxServiceState> {
	switch (service) {
		case 'postgres': {
			const {port} = await startSandboxPostgres(context, [previous?.port, SANDBOX_POSTGRES_PORT]);
			return {port};
		}

		case 'redis': {
			const {port, pid} = await startSandboxRedis(context, [previous?.port, SANDBOX_REDIS_PORT]);
			return pid === null ? {port} : {port, pid};
		}

		case 's3': {
			return startSandboxS3(context, [previous?.port, SANDBOX_S3_PORT], SANDBOX_BUCKET);
		}
	}
}

/** Starts whatever of the local sandbox is down (in parallel) and records it, even when one fails. */
async function upLocally(context: SandboxContext, state: SandboxState | undefined): Promise<{state: SandboxState; started: SandboxServiceName[]}> {
	const probes = await probeSandbox(context, state);
	for (const service of SANDBOX_SERVICES) {
		probes[service] = await settle(context, service, probes[service], state);
	}

	const missing = SANDBOX_SERVICES.filter(service => !probes[service].up);
	for (const service of SANDBOX_SERVICES.filter(service => probes[service].up)) {
		context.report(`${service}: already up`);
	}

	const results = await Promise.allSettled(missing.map(async service => startLocal(context, service, state?.services[service])));
	const services = {...state?.services};
	const started: SandboxServiceName[] = [];
	const failures: unknown[] = [];
	for (const [index, result] of results.entries()) {
		const service = missing[index]!;
		if (result.status === 'fulfilled') {
			services[service] = result.value;
			started.push(service);
		} else {
			failures.push(result.reason);
		}
	}

	const next: SandboxState = {
		version: 1,
		backend: 'local',
		startedAt: started.length > 0 || !state ? new Date().toISOString() : state.startedAt,
		services,
	};
	// Recorded before any failure is reported: `down` must find what did start.
	await writeSandboxState(context.paths, next);
	if (failures.length > 0) {
		const errors = failures.map(failure => asMsdbError(failure));
		if (errors.length === 1) {
			throw errors[0];
		}

		throw new ActionableError('E_SERVICE_UNAVAILABLE', errors.map(error => error.message).join('\n\n'), {
			nextStep: errors.find(error => error.nextStep)?.nextStep,
			cause: errors[0],
		});
	}

	return {state: next, started};
}

/**
 * `msdb sandbox up`: PostgreSQL (with database `msdb`), Redis and an S3 endpoint (with bucket
 * `msdb-sandbox`) for local use, started detached so they outlive this call, with their state in
 * `<cwd>/.msdb/sandbox/`. Docker compose when an engine answers (or MSDB_SANDBOX_DOCKER=1),
 * else local binaries and s3rver (or MSDB_SANDBOX_DOCKER=0). Idempotent: services already up
 * are left alone, missing ones are started, stale pids are ignored. Returns once every service
 * answers.
 */
export async function sandboxUp(options: SandboxOptions): Promise<SandboxUpResult> {
	const context = contextFor(options);
	let state = await readSandboxState(context.paths);
	const choice = await chooseBackend(context, state);
	let started: SandboxServiceName[] = [];
	if (choice.backend === 'docker') {
		const before = state ? await probeSandbox(context, state) : undefined;
		try {
			state = await upOnDocker(context, choice.composeFile ?? (await findComposeFile()) ?? '', state);
			started = SANDBOX_SERVICES.filter(service => !before?.[service].up);
		} catch (error) {
			if (choice.required) {
				throw error;
			}

			// An engine that answers can still fail to run containers (no network for the pull,
			// a port taken): local binaries may still do.
			context.report(`docker compose failed, using local binaries instead (\`docker compose -p msdb-sandbox down\` removes what it started): ${asMsdbError(error).message}`);
			({state, started} = await upLocally(context, undefined));
		}
	} else {
		({state, started} = await upLocally(context, state));
	}

	const status = describeSandbox(context, state, await probeSandbox(context, state));
	if (!status.env) {
		throw new ActionableError('E_SERVICE_UNAVAILABLE', 'The sandbox did not come up completely.', {nextStep: 'Run `msdb sandbox status` to see which service is missing.'});
	}

	if (await ensureSandboxDatabase(state.services.postgres!.port, state.backend === 'docker' ? DOCKER_SANDBOX_POSTGRES_PASSWORD : undefined)) {
		context.report('postgres: created database msdb');
	}

	await ensureBucket(status.env, context);
	return {...status, started};
}
