/**
 * Live gauges: a generic polling {@link Sampler}, the PostgreSQL and Redis samples, and the
 * {@link ServerSampler} the console subscribes to. Headless; what source/index.ts re-exports.
 */
export {Sampler, DEFAULT_SAMPLE_INTERVAL_MS, DEFAULT_MAX_BACKOFF_MS} from './sampler.js';
export type {SamplerEvent, SamplerListener, SamplerOptions, TakenSample} from './sampler.js';
export {takePostgresSample, emptyConnectionStates, QUERY_TEXT_LENGTH} from './postgres-sample.js';
export type {
	PostgresSample,
	ConnectionStates,
	ApplicationConnections,
	TransactionRates,
	BufferCacheHitRatio,
	RunningQuery,
	LockWait,
	ReplicaLag,
	ReplicationStatus,
	PostgresCounters,
	DatabaseCounters,
} from './postgres-sample.js';
export {POSTGRES_SAMPLER_QUERIES, LOCK_WAITS_LISTED} from './postgres-sampler-queries.js';
export {PostgresSampler, POSTGRES_SAMPLER_APPLICATION_NAME} from './postgres-sampler.js';
export type {PostgresSamplerOptions} from './postgres-sampler.js';
export {takeRedisSample} from './redis-sample.js';
export type {RedisSample, RedisOpsRate, RedisKeyspaceHitRate, RedisNodeCounters} from './redis-sample.js';
export {RedisSampler, REDIS_SAMPLER_CONNECTION_NAME} from './redis-sampler.js';
export type {RedisSamplerOptions} from './redis-sampler.js';
export {ServerSampler} from './server-sampler.js';
export type {ServerSnapshot, ServerSnapshotListener, ServerSamplerOptions} from './server-sampler.js';
