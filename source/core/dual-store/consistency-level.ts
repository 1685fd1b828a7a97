/**
 * How a write to `agents.state` is acknowledged and in which order PostgreSQL
 * and Redis see it. The README's "Dual-store consistency" table states what
 * each level guarantees, what it costs and what it can lose.
 *
 * - `strong`: PostgreSQL commit (row + outbox row), then a version-checked
 *   Redis compare-and-set; reads never see an older version than acknowledged.
 * - `postgres-first`: PostgreSQL commit, then the Redis copy is invalidated.
 * - `redis-first`: a version-checked Redis write plus a write-behind stream
 *   entry in one atomic step; PostgreSQL follows.
 * - `eventual`: like `redis-first`, and the Redis copy expires after a TTL.
 */
export type ConsistencyLevel = 'strong' | 'postgres-first' | 'redis-first' | 'eventual';

/** Every consistency level, strongest first (for CLI choices and validation). */
export const CONSISTENCY_LEVELS: readonly ConsistencyLevel[] = ['strong', 'postgres-first', 'redis-first', 'eventual'];
