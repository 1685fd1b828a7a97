/**
 * Services in Docker containers through testcontainers, for machines with a Docker engine.
 *
 * testcontainers is imported lazily, and only after {@link probeDockerEngine} said an engine
 * answers: loading it costs ~0.3 s, and without an engine its own discovery waits far longer
 * than our one-second probe.
 */
import {findPgDumpMajorVersion} from './postgres-binaries.js';
import {
	once,
	s3ConnectionUrl,
	type ProvisionedPostgres,
	type ProvisionedRedis,
	type ProvisionedS3,
} from './provisioned-service.js';

const FALLBACK_POSTGRES_MAJOR = 16;
const REDIS_IMAGE = 'redis:7-alpine';
// Pinned: images from 2023 on ship `mc` (used below to create the bucket); older ones do not.
const MINIO_IMAGE = 'minio/minio:RELEASE.2024-05-28T17-19-04Z';
// Container-local throw-away credentials; MinIO wants a secret of at least 8 characters.
const MINIO_CREDENTIALS = {accessKeyId: 'msdbminio', secretAccessKey: 'msdbminio-secret'};
const STARTUP_TIMEOUT_MS = 120_000;

async function loadTestcontainers() {
	return import('testcontainers');
}

/**
 * PostgreSQL in `postgres:<major>-alpine`, where major is the local pg_dump's (pg_dump refuses
 * to dump newer servers), else 16. Trust auth, no fsync.
 */
export async function startDockerPostgres(options: {majorVersion?: number} = {}): Promise<ProvisionedPostgres> {
	const {GenericContainer, Wait} = await loadTestcontainers();
	const majorVersion = options.majorVersion ?? (await findPgDumpMajorVersion()) ?? FALLBACK_POSTGRES_MAJOR;
	const image = `postgres:${majorVersion}-alpine`;
	const container = await new GenericContainer(image)
		.withEnvironment({POSTGRES_HOST_AUTH_METHOD: 'trust'})
		.withCommand([
			'postgres',
			'-c', 'fsync=off',
			'-c', 'synchronous_commit=off',
			'-c', 'full_page_writes=off',
			'-c', 'max_connections=300',
		])
		.withExposedPorts(5432)
		// The entrypoint starts the server once to initialise, stops it, then starts it for good.
		.withWaitStrategy(
			Wait.forAll([Wait.forLogMessage(/database system is ready to accept connections/, 2), Wait.forListeningPorts()]),
		)
		.withStartupTimeout(STARTUP_TIMEOUT_MS)
		.start();
	const host = container.getHost();
	const port = container.getMappedPort(5432);
	return {
		service: 'postgres',
		url: `postgres://postgres@${host}:${port}/postgres`,
		source: 'docker',
		description: `PostgreSQL in Docker (${image}, container ${container.getId().slice(0, 12)}) on ${host}:${port}`,
		majorVersion,
		stop: once(async () => {
			await container.stop();
		}),
	};
}

/** Redis in `redis:7-alpine`, without persistence. */
export async function startDockerRedis(): Promise<ProvisionedRedis> {
	const {GenericContainer, Wait} = await loadTestcontainers();
	const container = await new GenericContainer(REDIS_IMAGE)
		.withCommand(['redis-server', '--save', '', '--appendonly', 'no'])
		.withExposedPorts(6379)
		.withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
		.withStartupTimeout(STARTUP_TIMEOUT_MS)
		.start();
	const host = container.getHost();
	const port = container.getMappedPort(6379);
	return {
		service: 'redis',
		url: `redis://${host}:${port}`,
		source: 'docker',
		description: `Redis in Docker (${REDIS_IMAGE}, container ${container.getId().slice(0, 12)}) on ${host}:${port}`,
		stop: once(async () => {
			await container.stop();
		}),
	};
}

/** MinIO with `bucket` created. */
export async function startDockerS3(options: {bucket: string}): Promise<ProvisionedS3> {
	const {GenericContainer, Wait} = await loadTestcontainers();
	const container = await new GenericContainer(MINIO_IMAGE)
		.withEnvironment({
			MINIO_ROOT_USER: MINIO_CREDENTIALS.accessKeyId,
			MINIO_ROOT_PASSWORD: MINIO_CREDENTIALS.secretAccessKey,
		})
		.withCommand(['server', '/data'])
		.withExposedPorts(9000)
		.withWaitStrategy(Wait.forHttp('/minio/health/ready', 9000))
		.withStartupTimeout(STARTUP_TIMEOUT_MS)
		.start();
	try {
		// `mc` reads the alias from MC_HOST_<name>, so no config step. A top-level directory of
		// the single-drive data dir is also listed as a bucket, hence the fallback.
		const created = await container.exec(
			['sh', '-c', `mc mb --ignore-existing "local/$BUCKET" || mkdir -p "/data/$BUCKET"`],
			{
				env: {
					BUCKET: options.bucket,
					MC_HOST_local: `http://${MINIO_CREDENTIALS.accessKeyId}:${MINIO_CREDENTIALS.secretAccessKey}@127.0.0.1:9000`,
				},
			},
		);
		if (created.exitCode !== 0) {
			throw new Error(`Could not create bucket ${options.bucket} in MinIO: ${created.output.trim()}`);
		}
	} catch (error) {
		await container.stop();
		throw error;
	}

	const host = container.getHost();
	const port = container.getMappedPort(9000);
	const connection = {endpoint: `http://${host}:${port}`, bucket: options.bucket, region: 'us-east-1', ...MINIO_CREDENTIALS};
	return {
		service: 's3',
		...connection,
		url: s3ConnectionUrl(connection),
		source: 'docker',
		description: `MinIO in Docker (${MINIO_IMAGE}, container ${container.getId().slice(0, 12)}) on ${host}:${port}, bucket ${options.bucket}`,
		stop: once(async () => {
			await container.stop();
		}),
	};
}
