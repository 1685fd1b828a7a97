/**
 * Provisioning of real PostgreSQL, Redis and S3 services: for the test harness and
 * `msdb sandbox up|down|status`. Headless; Docker support loads testcontainers only on demand.
 */
export {provisionServices} from './provision.js';
export type {ProvisionEvent, ProvisionRequest, ProvisionedServices} from './provision.js';
export type {
	ProvisionedPostgres,
	ProvisionedRedis,
	ProvisionedS3,
	ProvisionedService,
	S3Connection,
	ServiceName,
	ServiceSource,
} from './provisioned-service.js';
export {s3ConnectionUrl} from './provisioned-service.js';
export {isDockerEngineAvailable, probeDockerEngine} from './docker-engine.js';
export type {DockerEngineProbe, DockerEngineProbeOptions} from './docker-engine.js';
export {findPgDumpMajorVersion, findPostgresBinaries, parsePostgresVersion} from './postgres-binaries.js';
export type {PostgresBinaries} from './postgres-binaries.js';
export {postgresFromUrl, redisFromUrl, s3FromUrl} from './environment-services.js';
export {startLocalPostgres} from './local-postgres.js';
export type {LocalPostgresOptions} from './local-postgres.js';
export {startLocalPostgresReplica} from './local-postgres-replica.js';
export type {LocalPostgresReplica, LocalPostgresReplicaOptions} from './local-postgres-replica.js';
export {findRedisServer, startLocalRedis} from './local-redis.js';
export type {LocalRedis, LocalRedisOptions} from './local-redis.js';
export {startLocalRedisCluster} from './local-redis-cluster.js';
export type {LocalRedisCluster, LocalRedisClusterOptions} from './local-redis-cluster.js';
export {startLocalRedisSentinel} from './local-redis-sentinel.js';
export type {LocalRedisSentinel, LocalRedisSentinelOptions} from './local-redis-sentinel.js';
export {DEFAULT_TEST_BUCKET, startLocalS3} from './local-s3.js';
export type {LocalS3Options} from './local-s3.js';
export {startDockerPostgres, startDockerRedis, startDockerS3} from './docker-services.js';
