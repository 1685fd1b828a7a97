import {createHash} from 'node:crypto';
import {hashTag, redisKey} from '../redis/key-names.js';
import type {RedisRole} from '../redis/redis-config.js';

/**
 * Where the Redis copy of `agents.state` lives, shared by the DualStoreCoordinator, its relays
 * and `msdb reconcile agent-state` (so they can never disagree about a key).
 *
 * Agents are spread over a fixed number of partitions. A partition is a cluster hash tag, so an
 * agent's state key and its partition's write-behind stream share a slot: the version-checked
 * write and the XADD of redis-first happen in one Lua script, which a cluster allows only for
 * keys of one slot. One stream per partition (not per agent) keeps the number of streams and
 * consumer-group cursors small and fixed.
 *
 *   ms:<env>:agent-state:{p<n>}:<agentId>   hash: v = version (decimal), s = state (JSON text)
 *   ms:<env>:agent-state-log:{p<n>}         stream of redis-first / eventual writes to persist
 *   ms:<env>:agent-state-events             stream of state changes, in commit order per agent
 *
 * A state hash with `v` but no `s` is a tombstone (written by postgres-first invalidation): "there
 * is no copy here; PostgreSQL holds version v or newer". It keeps a reader that loaded an older
 * row before the invalidation from putting that row back (a warm-up must carry a version ≥ v).
 * Readers and reconciliation treat it as no copy.
 */
export const AGENT_STATE_PARTITIONS = 16;

/**
 * The Redis role whose server holds agent state, for every writer, relay and reconciler. `queues`
 * because the write-behind log is a queue, and the state copies must live on the same server (one
 * Lua script writes both): a server that must not evict, and whose persistence decides what a
 * redis-first write can lose (README, "Dual-store consistency").
 */
export const AGENT_STATE_REDIS_ROLE: RedisRole = 'queues';

/** The domain part of the keys (`ms:<env>:agent-state:…`). */
export const AGENT_STATE_DOMAIN = 'agent-state';

/** Hash fields of a state key. */
export const STATE_FIELDS = {version: 'v', state: 's'} as const;

/** The partition (0 … AGENT_STATE_PARTITIONS - 1) of an agent: stable across processes and releases. */
export function agentStatePartition(agentId: string): number {
	return createHash('sha1').update(agentId).digest().readUInt32BE(0) % AGENT_STATE_PARTITIONS;
}

/** `ms:<env>:agent-state:{p<n>}:<agentId>` */
export function agentStateKey(env: string, agentId: string): string {
	return redisKey({env, domain: AGENT_STATE_DOMAIN}, hashTag(`p${agentStatePartition(agentId)}`), agentId);
}

/** `ms:<env>:agent-state-log:{p<n>}`: the write-behind stream of one partition. */
export function agentStateLogKey(env: string, partition: number): string {
	return redisKey({env, domain: `${AGENT_STATE_DOMAIN}-log`}, hashTag(`p${partition}`));
}

/** `ms:<env>:agent-state-events`: the stream other services follow for state changes. */
export function agentStateEventsKey(env: string): string {
	return redisKey({env, domain: `${AGENT_STATE_DOMAIN}-events`});
}

/** NATS JetStream subject of an agent's state changes. */
export function agentStateSubject(agentId: string): string {
	return `agent.${agentId}.state.changed`;
}

/**
 * A content hash of a state value that does not depend on key order or whitespace: PostgreSQL
 * returns JSONB with its own key order, Redis holds the JSON text a writer produced, and
 * reconciliation must call them equal when they mean the same document.
 */
export function stateContentHash(state: unknown): string {
	return createHash('sha256').update(canonicalJson(state)).digest('hex');
}

function canonicalJson(value: unknown): string {
	if (Array.isArray(value)) {
		return `[${value.map(item => canonicalJson(item)).join(',')}]`;
	}

	if (value !== null && typeof value === 'object') {
		const entries = Object.entries(value as Record<string, unknown>)
			.filter(([, item]) => item !== undefined)
			.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
		return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
	}

	return JSON.stringify(value);
}
