/**
 * The sandbox on Docker: the PostgreSQL, Redis and MinIO services of the repository's
 * docker-compose.yml, as the compose project `msdb-sandbox`. `down` stops the containers (data
 * stays in them and their volumes), `down --purge` removes them with their volumes.
 *
 * Not exercised by the test suite: the machines it runs on have no Docker daemon.
 */
import {constants} from 'node:fs';
import {access} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {ActionableError} from '../errors.js';
import {redact} from '../redact.js';
import {probeDockerEngine} from '../provision/docker-engine.js';
import {findPackageRoot} from './sandbox-paths.js';
import type {SandboxContext} from './sandbox-service.js';
import type {SandboxServiceName} from './sandbox-state.js';

/** The compose project name: one Docker sandbox per machine, whatever the working directory. */
export const COMPOSE_PROJECT = 'msdb-sandbox';

/** Each sandbox service's compose service and the container port it publishes. */
const COMPOSE_SERVICES: Record<SandboxServiceName, {name: string; containerPort: number}> = {
	postgres: {name: 'postgres', containerPort: 5432},
	redis: {name: 'redis', containerPort: 6379},
	s3: {name: 'minio', containerPort: 9000},
};

const UP_TIMEOUT_MS = 10 * 60_000;

/** docker-compose.yml at msdb's package root, if it is there (a source checkout). */
export async function findComposeFile(): Promise<string | undefined> {
	const root = findPackageRoot();
	const file = root ? path.join(root, 'docker-compose.yml') : undefined;
	return file && (await access(file, constants.R_OK).then(() => true, () => false)) ? file : undefined;
}

/** Why Docker cannot be used here, or undefined when an engine answers and `docker compose` works. */
export async function dockerUnavailableReason(context: SandboxContext, composeFile: string | undefined): Promise<string | undefined> {
	if (!composeFile) {
		return 'no docker-compose.yml next to msdb (it ships with the source checkout)';
	}

	const engine = await probeDockerEngine({env: context.env});
	if (!engine.available) {
		return `no Docker engine answers at ${engine.endpoint} (${engine.detail})`;
	}

	const compose = await execa('docker', ['compose', 'version'], {env: context.env, reject: false, all: true, stdin: 'ignore', timeout: 10_000});
	return compose.exitCode === 0 ? undefined : `\`docker compose version\` failed: ${redact(compose.all.trim()) || String(compose.exitCode)}`;
}

async function compose(context: SandboxContext, composeFile: string | undefined, args: string[], timeoutMs = 120_000) {
	const result = await execa('docker', ['compose', ...(composeFile ? ['-f', composeFile] : []), '-p', COMPOSE_PROJECT, ...args], {
		env: context.env,
		reject: false,
		all: true,
		stdin: 'ignore',
		timeout: timeoutMs,
		...(context.signal ? {cancelSignal: context.signal} : {}),
	});
	if (result.exitCode !== 0) {
		throw new ActionableError('E_SERVICE_UNAVAILABLE', `docker compose ${args[0] ?? ''} failed: ${redact(result.all.trim().split('\n').slice(-25).join('\n'))}`, {
			nextStep: 'Check `docker compose -p msdb-sandbox ps` and the container logs; MSDB_SANDBOX_DOCKER=0 uses local binaries instead.',
		});
	}

	return result.stdout;
}

/**
 * `docker compose up -d --wait` for PostgreSQL, Redis and MinIO (their health checks must pass),
 * then the host ports compose published for them.
 */
export async function dockerSandboxUp(context: SandboxContext, composeFile: string): Promise<Record<SandboxServiceName, number>> {
	context.report(`docker: docker compose -p ${COMPOSE_PROJECT} up -d --wait (first run pulls the images)`);
	await compose(context, composeFile, ['up', '-d', '--wait', ...Object.values(COMPOSE_SERVICES).map(service => service.name)], UP_TIMEOUT_MS);
	const ports = {} as Record<SandboxServiceName, number>;
	for (const [service, {name, containerPort}] of Object.entries(COMPOSE_SERVICES) as Array<[SandboxServiceName, {name: string; containerPort: number}]>) {
		// `0.0.0.0:5432` (or `[::]:5432`): the host port is after the last colon.
		const published = (await compose(context, composeFile, ['port', name, String(containerPort)])).trim().split('\n')[0] ?? '';
		const port = Number(published.slice(published.lastIndexOf(':') + 1));
		if (!Number.isInteger(port) || port <= 0) {
			throw new ActionableError('E_SERVICE_UNAVAILABLE', `docker compose did not publish a host port for ${name}:${containerPort} (got '${published}').`, {
				nextStep: `Check the ports of ${name} in ${composeFile}.`,
			});
		}

		ports[service] = port;
	}

	return ports;
}

/** `docker compose stop` (keeps the containers and their data), or `down -v` with `purge`. */
export async function dockerSandboxDown(context: SandboxContext, composeFile: string | undefined, purge: boolean): Promise<void> {
	context.report(`docker: docker compose -p ${COMPOSE_PROJECT} ${purge ? 'down -v' : 'stop'}`);
	await compose(context, composeFile, purge ? ['down', '-v'] : ['stop']);
}
