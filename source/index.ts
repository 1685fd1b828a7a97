/**
 * mister-smith-db as a library: what framework services import. Everything here is headless
 * (no Ink, no React); the CLI and the console are built on these same functions.
 */

export {ActionableError, BugError, MsdbError, errorCodes, asMsdbError} from './core/errors.js';
export type {ErrorCode, ExitCode} from './core/errors.js';
export {redact, redactDeep, redactUrl, registerSecret} from './core/redact.js';
export {resolveDatabaseConfig} from './core/config/database-config.js';
export type {DatabaseConfig} from './core/config/database-config.js';

export {applyMigrations} from './core/migrations/apply.js';
export type {ApplyOptions, ApplyResult} from './core/migrations/apply.js';
export {rollbackMigrations} from './core/migrations/rollback.js';
export type {RollbackOptions, RollbackResult} from './core/migrations/rollback.js';
export {migrationStatus} from './core/migrations/status.js';
export type {MigrationStatus} from './core/migrations/status.js';
export {validateMigrations} from './core/migrations/validate.js';
export type {ValidationProblem, ValidationResult} from './core/migrations/validate.js';
export {detectDrift} from './core/migrations/drift.js';
export type {DriftResult} from './core/migrations/drift.js';
export {createMigration} from './core/migrations/create.js';
export {resetDatabase} from './core/migrations/reset.js';
export type {ResetOptions, ResetResult} from './core/migrations/reset.js';
export {acceptMigration} from './core/migrations/accept.js';
export {baselineMigrations} from './core/migrations/baseline.js';
export {DEFAULT_LIMITS, DEFAULT_LOCK_RETRIES, DEFAULT_LOCK_WAIT} from './core/migrations/migration-settings.js';
export type {MigrationSettings} from './core/migrations/migration-settings.js';
export type {MigrationEvent, MigrationEventListener} from './core/migrations/migration-events.js';
export {takeCatalogSnapshot} from './core/migrations/catalog-snapshot.js';
export {diffCatalogSnapshots} from './core/migrations/catalog-diff.js';
export type {CatalogSnapshot} from './core/migrations/catalog-snapshot.js';

export {provisionServices} from './core/provision/index.js';

export {RedisConnections} from './core/redis/redis-connections.js';
export {resolveRedisConfig} from './core/redis/redis-config.js';
export type {RedisConfig, RedisEndpoint, RedisRole} from './core/redis/redis-config.js';
export type {RedisRoleHealth} from './core/redis/redis-health.js';
export type {RedisClient} from './core/redis/redis-client.js';
export {hashTag, keyEnvironment, redisKey, redisKeyPrefix} from './core/redis/key-names.js';

export {RedisSessionStore} from './core/sessions/index.js';
export type {SessionStore, Session, SessionSummary, SessionData, SessionPatch, IssuedSession, SessionStoreOptions} from './core/sessions/index.js';

export {MultiLevelCache, registerCacheMetrics, inspectCache, jsonSerializer} from './core/cache/index.js';
export type {
	Cache,
	CacheLoader,
	CacheWriteOptions,
	CacheWriteOutcome,
	GetOrLoadOptions,
	InvalidationOutcome,
	MultiLevelCacheOptions,
	CacheEvent,
	CacheEventListener,
	CacheStats,
	CacheSerializer,
} from './core/cache/index.js';

// fleet
export {HeartbeatPublisher, readFleet} from './core/fleet/index.js';
export type {HeartbeatPublisherOptions, HeartbeatPublisherStatus, HeartbeatSources, FleetReading, FleetTotals, HeartbeatSnapshot} from './core/fleet/index.js';
export type {RedisCommandStats} from './core/redis/redis-command-stats.js';

// pools
export {DatabasePools, POOL_ROLES, resolvePoolsConfig} from './core/pools/index.js';
export type {
	DatabasePoolsOptions,
	PoolRole,
	PoolRoleConfig,
	PoolRoleOverrides,
	PoolStats,
	PoolsConfig,
	PoolsConfigInput,
	PoolsStats,
	ReplicaRoutingStats,
} from './core/pools/index.js';

// sampler
export {Sampler, PostgresSampler, RedisSampler, ServerSampler, takePostgresSample, takeRedisSample} from './core/sampler/index.js';
export type {
	SamplerEvent,
	SamplerListener,
	SamplerOptions,
	PostgresSample,
	PostgresSamplerOptions,
	RedisSample,
	RedisSamplerOptions,
	ServerSnapshot,
	ServerSnapshotListener,
	ServerSamplerOptions,
} from './core/sampler/index.js';

// metrics
export {
	createMetricsRegistry,
	registerPoolMetrics,
	registerRedisCommandMetrics,
	registerMigrationMetrics,
	registerBackupMetrics,
	registerFleetMetrics,
	serveMetrics,
	ScrapeSource,
} from './core/metrics/index.js';
export type {MetricsRegistry, MetricsRegistryInput, MetricsServer, ServeMetricsOptions, SourceReading, SourcesHealth} from './core/metrics/index.js';

// health, worker, load
export {checkHealth} from './core/health/check-health.js';
export type {HealthCheck, HealthReport} from './core/health/health-check-types.js';
export {runWorker, WORKER_SERVICE} from './core/worker/run-worker.js';
export type {WorkerOptions, WorkerSummary} from './core/worker/run-worker.js';
export {runLoad, resolveLoadOptions} from './core/load/index.js';
export type {LoadOptions, LoadSummary} from './core/load/index.js';
export {FLEET_REDIS_ROLE} from './core/fleet/fleet-redis-role.js';

// reconcile and events
export {
	AgentStateEventPublisher,
	AGENT_STATE_SUBJECTS,
	DEFAULT_AGENT_STATE_STREAM,
	DEFAULT_EVENTS_MAXLEN,
} from './core/dual-store/agent-state-events.js';
export type {AgentStateChange, AgentStateEventPublisherOptions, AgentStateEventStats} from './core/dual-store/agent-state-events.js';
export {reconcileAgentState, AGENT_STATE_DIFFERENCE_KINDS, DEFAULT_RECONCILE_BATCH_SIZE} from './core/dual-store/reconcile-agent-state.js';
export type {
	AgentStateCopy,
	AgentStateDifference,
	AgentStateDifferenceKind,
	ReconcileAgentStateOptions,
	ReconcileAgentStateResult,
} from './core/dual-store/reconcile-agent-state.js';

// sagas
export {SagaCoordinator, defineSaga, sagaStep} from './core/sagas/index.js';
export type {
	SagaCoordinatorOptions,
	SagaOutcome,
	ResumeReport,
	SagaDefinition,
	SagaDefinitionInput,
	SagaStep,
	SagaStepContext,
	SagaDatabase,
	SagaEvent,
	SagaEventName,
	SagaHistory,
	SagaRecord,
	SagaStatus,
	SagaStepRecord,
	SagaStepStatus,
} from './core/sagas/index.js';

// dual-store
export {
	DualStoreCoordinator,
	CONSISTENCY_LEVELS,
	OutboxRelay,
	WriteBehindWriter,
	WRITE_BEHIND_GROUP,
	registerAgentStateMetrics,
	readAgentStateBacklog,
	AGENT_STATE_PARTITIONS,
	AGENT_STATE_REDIS_ROLE,
	agentStateKey,
	agentStateLogKey,
	agentStateEventsKey,
	agentStatePartition,
	agentStateSubject,
	stateContentHash,
} from './core/dual-store/index.js';
export type {
	ConsistencyLevel,
	AgentStateRead,
	AgentStateWriteOptions,
	AgentStateWriteResult,
	DualStoreCoordinatorOptions,
	DualStoreStats,
	OutboxRelayOptions,
	OutboxRelayStats,
	OutboxDrainOutcome,
	StateChangePublisher,
	WriteBehindWriterOptions,
	WriteBehindStats,
	WriteBehindDrainOutcome,
	PersistedEntry,
	AgentStateBacklog,
} from './core/dual-store/index.js';
