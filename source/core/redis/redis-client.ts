import type {Cluster, Redis} from 'ioredis';

/**
 * A connection to one Redis deployment, whatever its shape: a standalone server or a
 * Sentinel-managed primary (ioredis `Redis`), or a Redis Cluster (ioredis `Cluster`). Library
 * code takes this type and must work with both; keys that must share a cluster slot use hash
 * tags (see key-names.ts).
 */
export type RedisClient = Redis | Cluster;

/** True for a Redis Cluster connection (MGET and Lua scripts must then stay within one slot). */
export function isCluster(client: RedisClient): client is Cluster {
	return 'isCluster' in client && (client as Cluster).isCluster === true;
}

/**
 * The connections to every primary: the master nodes of a cluster (known once it is connected),
 * or the client itself. For work that must reach every primary: FLUSHALL in tests, SCAN for a
 * prefix, health.
 */
export function masterNodes(client: RedisClient): Redis[] {
	return isCluster(client) ? client.nodes('master') : [client];
}
