/**
 * Set-up shared by the dual-store tests: agents to write state for, the pools and Redis
 * connection the coordinator and the relays use (with short deadlines, so a killed Redis fails
 * calls quickly), and a drain of both relays.
 */
import {resolvePoolsConfig} from '../../source/core/pools/pool-config.js';
import {DatabasePools} from '../../source/core/pools/database-pools.js';
import {AGENT_STATE_REDIS_ROLE} from '../../source/core/dual-store/agent-state-layout.js';
import {OutboxRelay, type StateChangePublisher} from '../../source/core/dual-store/outbox-relay.js';
import {WriteBehindWriter, type WriteBehindWriterOptions} from '../../source/core/dual-store/write-behind-writer.js';
import type {RedisClient} from '../../source/core/redis/redis-client.js';
import {resolveRedisConfig} from '../../source/core/redis/redis-config.js';
import {RedisConnections} from '../../source/core/redis/redis-connections.js';
import {query} from './sql.js';

export type Stores = {
	pools: DatabasePools;
	connections: RedisConnections;
	/** The agent-state role's connection. */
	redis: RedisClient;
	close(): Promise<void>;
};

/** Pools on `databaseUrl` and the agent-state Redis connection on `redisUrl`, connected. */
export async function openStores(databaseUrl: string, redisUrl: string, commandTimeoutMs = 1000): Promise<Stores> {
	const pools = new DatabasePools(resolvePoolsConfig({databaseUrl}, {}));
	const connections = new RedisConnections(resolveRedisConfig({redisUrl}, {}), {commandTimeoutMs, connectTimeoutMs: 500, maxReconnectDelayMs: 100});
	const redis = connections.client(AGENT_STATE_REDIS_ROLE);
	await redis.ping();
	return {
		pools,
		connections,
		redis,
		async close() {
			await connections.close();
			await pools.close();
		},
	};
}

/** `count` new agents (no state row); their ids in creation order. */
export async function createAgents(databaseUrl: string, count: number, prefix = 'ds'): Promise<string[]> {
	const rows = await query<{id: string}>(
		databaseUrl,
		`INSERT INTO agents.agents (name, kind) SELECT $2 || '-' || gen_random_uuid(), 'executor' FROM generate_series(1, $1::int) RETURNING id::text AS id`,
		[count, prefix],
	);
	return rows.map(row => row.id);
}

/** Both relays of one env, as `msdb worker` has them. */
export function relaysFor(stores: Stores, env: string, options: {events?: StateChangePublisher; writer?: Partial<WriteBehindWriterOptions>} = {}): {relay: OutboxRelay; writer: WriteBehindWriter} {
	return {
		relay: new OutboxRelay({redis: stores.redis, env, events: options.events}),
		writer: new WriteBehindWriter({redis: stores.redis, env, events: options.events, claimIdleMs: 0, ...options.writer}),
	};
}

/** Runs both relays until neither finds anything to do. */
export async function drainRelays(stores: Stores, relays: {relay: OutboxRelay; writer: WriteBehindWriter}): Promise<void> {
	for (;;) {
		const [outbox, log] = await stores.pools.withClient('background', async client => [await relays.relay.drain(client), await relays.writer.drain(client)] as const);
		if (outbox.relayed === 0 && outbox.rewarmed === 0 && log.persisted === 0 && log.waitingFor.length === 0) {
			return;
		}
	}
}

/** agents.state of these agents: version and state by agent id. */
export async function postgresStates(databaseUrl: string, agentIds: readonly string[]): Promise<Map<string, {version: number; state: unknown}>> {
	const rows = await query<{agent_id: string; version: string; state: unknown}>(databaseUrl, 'SELECT agent_id::text AS agent_id, version::text AS version, state FROM agents.state WHERE agent_id = ANY($1::uuid[])', [agentIds]);
	return new Map(rows.map(row => [row.agent_id, {version: Number(row.version), state: row.state}]));
}
