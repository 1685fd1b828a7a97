/**
 * Fleet heartbeats: each framework process publishes a compact snapshot into Redis
 * (HeartbeatPublisher); readFleet() lists and sums the live ones. Headless; what source/index.ts
 * re-exports for framework services and what the console's pool and cache panels read.
 */
export {HeartbeatPublisher, DEFAULT_HEARTBEAT_INTERVAL_MS, HEARTBEAT_TTL_INTERVALS} from './heartbeat-publisher.js';
export type {HeartbeatPublisherOptions, HeartbeatPublisherStatus, HeartbeatSources} from './heartbeat-publisher.js';
export {readFleet, fleetTotals, parseSnapshot} from './fleet-reader.js';
export type {FleetReading, FleetTotals, FleetPoolTotals, FleetCacheTotals, FleetRedisTotals, ReadFleetOptions} from './fleet-reader.js';
export {FleetKeyspace} from './fleet-keyspace.js';
export {poolHeartbeatsOf, cacheHeartbeatOf, redisRoleHeartbeatOf} from './heartbeat-snapshot-of.js';
export type {HeartbeatSnapshot, PoolHeartbeat, CacheHeartbeat, RedisRoleHeartbeat} from './heartbeat-snapshot.js';
export {FLEET_REDIS_ROLE} from './fleet-redis-role.js';
