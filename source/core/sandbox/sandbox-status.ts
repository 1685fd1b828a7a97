import {redact} from '../redact.js';
import {withLocalAdminClient} from '../provision/redis-server-process.js';
import {DOCKER_SANDBOX_POSTGRES_PASSWORD} from './sandbox-credentials.js';
import {sandboxEnvironment, SANDBOX_BUCKET, type SandboxEnvironment} from './sandbox-environment.js';
import {probeSandboxPostgres, sandboxPostgresClient, SANDBOX_DATABASE} from './local-sandbox-postgres.js';
import {probeSandboxRedis} from './local-sandbox-redis.js';
import {answersHttp, probeSandboxS3} from './local-sandbox-s3.js';
import {sandboxPaths} from './sandbox-paths.js';
import type {SandboxContext, ServiceProbe} from './sandbox-service.js';
import {readSandboxState, SANDBOX_SERVICES, type SandboxBackend, type SandboxServiceName, type SandboxState} from './sandbox-state.js';

/** One service of the sandbox, as `msdb sandbox status` reports it. */
export type SandboxServiceStatus = {
	state: 'up' | 'down';
	/** DATABASE_URL, REDIS_URL, or the S3 endpoint; null until the sandbox was first started here. */
	url: string | null;
	port: number | null;
	/** The server process (local binaries only; null on Docker or when it is not running). */
	pid: number | null;
	/** Where its data lives on this machine (local binaries only). */
	dataDirectory: string | null;
	/** Its log file (local binaries only). */
	log: string | null;
	/** `answers`, `not running`, `never started here`, why it is not ours … */
	detail: string;
};

/** The whole sandbox of one working directory. */
export type SandboxStatus = {
	/** null: never started here (or purged). */
	backend: SandboxBackend | null;
	/** `<cwd>/.msdb/sandbox` */
	directory: string;
	/** When `up` last started a service (ISO 8601), null if never. */
	startedAt: string | null;
	/** Every service answers. */
	up: boolean;
	services: Record<SandboxServiceName, SandboxServiceStatus>;
	/** The variables to export to use the sandbox; null until it was first started here. */
	env: SandboxEnvironment | null;
	/** The S3 bucket backups go to (MSDB_BACKUP_TARGET is `s3://<bucket>/backups`). */
	bucket: string;
};

/** What `sandboxStatus` and the others take. */
export type SandboxStatusOptions = {
	/** The working directory whose `.msdb/sandbox/` is meant. */
	cwd: string;
	env?: NodeJS.ProcessEnv;
};

async function probeDocker(service: SandboxServiceName, port: number | undefined): Promise<ServiceProbe> {
	if (port === undefined) {
		return {up: false, pid: null, detail: 'never started here'};
	}

	try {
		switch (service) {
			case 'postgres': {
				const client = sandboxPostgresClient(port, SANDBOX_DATABASE, DOCKER_SANDBOX_POSTGRES_PASSWORD);
				try {
					await client.connect();
					await client.query('SELECT 1');
				} finally {
					await client.end().catch(() => {});
				}

				break;
			}

			case 'redis': {
				await withLocalAdminClient(port, async client => client.ping());
				break;
			}

			case 's3': {
				if (!(await answersHttp(port))) {
					return {up: false, pid: null, detail: `nothing answers on port ${port} (Docker)`};
				}

				break;
			}
		}

		return {up: true, pid: null, detail: 'answers (Docker)'};
	} catch (error) {
		return {up: false, pid: null, detail: `does not answer on port ${port} (Docker): ${redact(error instanceof Error ? error.message : String(error))}`};
	}
}

/** Probes every service the state names (all three, in parallel). */
export async function probeSandbox(context: SandboxContext, state: SandboxState | undefined): Promise<Record<SandboxServiceName, ServiceProbe>> {
	const services = state?.services ?? {};
	const [postgres, redis, s3] = await Promise.all(
		state?.backend === 'docker'
			? SANDBOX_SERVICES.map(async service => probeDocker(service, services[service]?.port))
			: [
					probeSandboxPostgres(context, services.postgres?.port),
					probeSandboxRedis(context, services.redis?.port, services.redis?.pid),
					probeSandboxS3(services.s3?.port, services.s3?.pid),
				],
	);
	return {postgres: postgres!, redis: redis!, s3: s3!};
}

/** Puts state and probes together into the reported status. */
export function describeSandbox(context: SandboxContext, state: SandboxState | undefined, probes: Record<SandboxServiceName, ServiceProbe>): SandboxStatus {
	const {paths} = context;
	const local = state?.backend !== 'docker';
	const ports = state?.services ?? {};
	const complete = ports.postgres && ports.redis && ports.s3;
	const env = state && complete ? sandboxEnvironment(state.backend, {postgres: ports.postgres!.port, redis: ports.redis!.port, s3: ports.s3!.port}) : null;
	const urls: Record<SandboxServiceName, string | null> = {
		postgres: env?.DATABASE_URL ?? null,
		redis: env?.REDIS_URL ?? null,
		s3: env?.S3_ENDPOINT ?? null,
	};
	const files: Record<SandboxServiceName, {data: string; log: string}> = {
		postgres: {data: paths.postgresData, log: paths.postgresLog},
		redis: {data: paths.redisData, log: paths.redisLog},
		s3: {data: paths.s3Data, log: paths.s3Log},
	};
	const services = {} as Record<SandboxServiceName, SandboxServiceStatus>;
	for (const service of SANDBOX_SERVICES) {
		const probe = probes[service];
		services[service] = {
			state: probe.up ? 'up' : 'down',
			url: urls[service],
			port: ports[service]?.port ?? null,
			pid: probe.pid,
			dataDirectory: local && state ? files[service].data : null,
			log: local && state ? files[service].log : null,
			detail: probe.detail,
		};
	}

	return {
		backend: state?.backend ?? null,
		directory: paths.root,
		startedAt: state?.startedAt ?? null,
		up: SANDBOX_SERVICES.every(service => probes[service].up),
		services,
		env,
		bucket: SANDBOX_BUCKET,
	};
}

/** Which sandbox services of `cwd` run, where, and the environment to use them. Starts nothing. */
export async function sandboxStatus(options: SandboxStatusOptions): Promise<SandboxStatus> {
	const context: SandboxContext = {paths: sandboxPaths(options.cwd), env: options.env ?? process.env, report: () => {}};
	const state = await readSandboxState(context.paths);
	return describeSandbox(context, state, await probeSandbox(context, state));
}
