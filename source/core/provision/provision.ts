import {ActionableError, asMsdbError, MsdbError} from '../errors.js';
import {redact} from '../redact.js';
import {probeDockerEngine, type DockerEngineProbe} from './docker-engine.js';
import {startDockerPostgres, startDockerRedis, startDockerS3} from './docker-services.js';
import {postgresFromUrl, redisFromUrl, s3FromUrl} from './environment-services.js';
import {startLocalPostgres} from './local-postgres.js';
import {startLocalRedis} from './local-redis.js';
import {DEFAULT_TEST_BUCKET, startLocalS3} from './local-s3.js';
import type {
	ProvisionedPostgres,
	ProvisionedRedis,
	ProvisionedS3,
	ProvisionedService,
	ServiceName,
	ServiceSource,
} from './provisioned-service.js';

/** What provisioning reports while it works; the CLI prints these, tests may ignore them. */
export type ProvisionEvent =
	| {type: 'docker:probed'; available: boolean; endpoint: string; detail: string}
	| {type: 'service:starting'; service: ServiceName; source: ServiceSource}
	| {type: 'service:ready'; service: ServiceName; source: ServiceSource; description: string; durationMs: number}
	/** Docker answered but starting the container failed; local binaries are tried instead. */
	| {type: 'service:fallback'; service: ServiceName; from: 'docker'; to: 'local'; reason: string};

/** Which services to provide. A service left out is not provided; `{}` means "find or start one". */
export type ProvisionRequest = {
	/** `url`: an existing server to use as is (tests: MSDB_TEST_DATABASE_URL). */
	postgres?: {url?: string | undefined};
	/** `url`: an existing server to use as is (tests: MSDB_TEST_REDIS_URL). */
	redis?: {url?: string | undefined};
	/** `url`: `http://ACCESS:SECRET@host:port/bucket` (tests: MSDB_TEST_S3_URL); `bucket` default `msdb-test`. */
	s3?: {url?: string | undefined; bucket?: string | undefined};
	/** `false`: never use Docker, even when an engine answers. Default: use it when it answers. */
	docker?: boolean;
	onEvent?: (event: ProvisionEvent) => void;
};

type ServiceByName = {postgres: ProvisionedPostgres; redis: ProvisionedRedis; s3: ProvisionedS3};

// A service requested with a definite value is certainly in the result; one whose request may
// be undefined (a widened ProvisionRequest) may be missing.
type Requested<R> = {
	[K in ServiceName as K extends keyof R ? (undefined extends R[K] ? never : K) : never]: ServiceByName[K];
};
type MaybeRequested<R> = {
	[K in ServiceName as K extends keyof R ? (undefined extends R[K] ? K : never) : never]?: ServiceByName[K];
};

/** The provisioned services, keyed by name, plus one call to stop them all. */
export type ProvisionedServices<R extends ProvisionRequest = ProvisionRequest> = Requested<R> &
	MaybeRequested<R> & {
		/** Every provisioned service, in postgres, redis, s3 order. */
		readonly services: readonly ProvisionedService[];
		/** Stops every service (in parallel); rejects with the first failure after trying all. */
		stopAll(): Promise<void>;
	};

const SERVICE_NAMES: readonly ServiceName[] = ['postgres', 'redis', 's3'];

type Context = {
	request: ProvisionRequest;
	emit: (event: ProvisionEvent) => void;
	dockerAvailable: () => Promise<boolean>;
};

function fromEnvironment(service: ServiceName, request: ProvisionRequest): ProvisionedService | undefined {
	switch (service) {
		case 'postgres': {
			return request.postgres?.url ? postgresFromUrl(request.postgres.url) : undefined;
		}

		case 'redis': {
			return request.redis?.url ? redisFromUrl(request.redis.url) : undefined;
		}

		case 's3': {
			return request.s3?.url ? s3FromUrl(request.s3.url, request.s3.bucket) : undefined;
		}
	}
}

async function startDocker(service: ServiceName, request: ProvisionRequest): Promise<ProvisionedService> {
	switch (service) {
		case 'postgres': {
			return startDockerPostgres();
		}

		case 'redis': {
			return startDockerRedis();
		}

		case 's3': {
			return startDockerS3({bucket: request.s3?.bucket ?? DEFAULT_TEST_BUCKET});
		}
	}
}

async function startLocal(service: ServiceName, request: ProvisionRequest): Promise<ProvisionedService> {
	switch (service) {
		case 'postgres': {
			return startLocalPostgres();
		}

		case 'redis': {
			return startLocalRedis();
		}

		case 's3': {
			return startLocalS3({bucket: request.s3?.bucket ?? DEFAULT_TEST_BUCKET});
		}
	}
}

async function provisionOne(service: ServiceName, context: Context): Promise<ProvisionedService> {
	const startedAt = Date.now();
	const ready = (provisioned: ProvisionedService) => {
		context.emit({
			type: 'service:ready',
			service,
			source: provisioned.source,
			description: provisioned.description,
			durationMs: Date.now() - startedAt,
		});
		return provisioned;
	};

	const given = fromEnvironment(service, context.request);
	if (given) {
		return ready(given);
	}

	if (context.request.docker !== false && (await context.dockerAvailable())) {
		context.emit({type: 'service:starting', service, source: 'docker'});
		try {
			return ready(await startDocker(service, context.request));
		} catch (error) {
			// An engine that answers /_ping can still fail to run a container (no network for the
			// image pull, no permission): local binaries may still do.
			const reason = redact(error instanceof Error ? error.message : String(error));
			context.emit({type: 'service:fallback', service, from: 'docker', to: 'local', reason});
		}
	}

	context.emit({type: 'service:starting', service, source: 'local'});
	return ready(await startLocal(service, context.request));
}

async function stopEach(services: readonly ProvisionedService[]): Promise<void> {
	const results = await Promise.allSettled(services.map(async service => service.stop()));
	const failure = results.find(result => result.status === 'rejected');
	if (failure) {
		throw failure.reason;
	}
}

/**
 * Provides PostgreSQL, Redis and S3 for tests and `msdb sandbox`, each one (in parallel) from
 * the first of: the URL in the request (nothing started); a Docker container via testcontainers
 * when a Docker engine answers within a second; local binaries (initdb + postgres, redis-server)
 * on free ports and temp directories, and s3rver in-process for S3.
 *
 * If any service cannot be provided, the ones already started are stopped and the error says
 * what to do instead (`ActionableError` with code `E_SERVICE_UNAVAILABLE`).
 */
export async function provisionServices<R extends ProvisionRequest>(request: R): Promise<ProvisionedServices<R>> {
	const emit = (event: ProvisionEvent) => request.onEvent?.(event);
	let probe: Promise<DockerEngineProbe> | undefined;
	const context: Context = {
		request,
		emit,
		dockerAvailable: async () => {
			// One probe shared by all services, and none at all when every URL was given.
			probe ??= probeDockerEngine().then(result => {
				emit({type: 'docker:probed', ...result});
				return result;
			});
			return (await probe).available;
		},
	};

	const wanted = SERVICE_NAMES.filter(service => request[service] !== undefined);
	const results = await Promise.allSettled(wanted.map(async service => provisionOne(service, context)));
	const services = results.flatMap(result => (result.status === 'fulfilled' ? [result.value] : []));
	const failures = results.flatMap((result, index) =>
		result.status === 'rejected' ? [{service: wanted[index], error: asMsdbError(result.reason)}] : [],
	);
	if (failures.length > 0) {
		await stopEach(services).catch(() => {});
		const [first] = failures;
		if (failures.length === 1 && first) {
			throw first.error;
		}

		throw new ActionableError(
			'E_SERVICE_UNAVAILABLE',
			failures.map(({service, error}) => `${String(service)}: ${error.message}`).join('\n\n'),
			{
				nextStep: failures.find(({error}) => error instanceof MsdbError && error.nextStep)?.error.nextStep,
				cause: first?.error,
			},
		);
	}

	const byName: Record<string, ProvisionedService> = {};
	for (const service of services) {
		byName[service.service] = service;
	}

	return {
		...byName,
		services,
		stopAll: async () => stopEach(services),
	} as unknown as ProvisionedServices<R>;
}
