import type {RedisRole} from '../redis/redis-config.js';

/**
 * The Redis role whose server holds the fleet's heartbeats: every publisher (`msdb worker`,
 * `msdb load`, framework services) and every reader (`msdb metrics`, the console) must agree on
 * it, or they look at different servers once roles get their own URLs. `pubsub` because
 * heartbeats are operational chatter, like the invalidation messages on that role, and must not
 * compete with the cache's memory (a cache server evicts).
 */
export const FLEET_REDIS_ROLE: RedisRole = 'pubsub';
