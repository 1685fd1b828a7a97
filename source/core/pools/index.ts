/**
 * PostgreSQL pools by role (primary, replica, background, analytics, streaming) and replica
 * reads with a lag threshold. Headless; what source/index.ts re-exports for framework services.
 */
export {DatabasePools, isConnectionError} from './database-pools.js';
export type {DatabasePoolsOptions, QueryValues} from './database-pools.js';
export {
	DEFAULT_CONNECT_TIMEOUT_MS,
	DEFAULT_IDLE_TIMEOUT_MS,
	DEFAULT_POOL_SIZES,
	DEFAULT_REPLICA_CHECK_INTERVAL_MS,
	DEFAULT_REPLICA_MAX_LAG_MS,
	resolvePoolsConfig,
} from './pool-config.js';
export type {PoolRoleConfig, PoolRoleOverrides, PoolsConfig, PoolsConfigInput} from './pool-config.js';
export {POOL_ROLES} from './pool-stats.js';
export type {PoolRole, PoolStats, PoolsStats, ReplicaRoutingStats} from './pool-stats.js';
export {REPLICA_ROUTER_QUERIES, ReplicaRouter} from './replica-router.js';
export type {ReplicaRoute, ReplicaRouterOptions, RunQuery} from './replica-router.js';
