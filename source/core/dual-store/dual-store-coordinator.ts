import type {Cache} from '../cache/cache.js';
import {ActionableError} from '../errors.js';
import type {DatabasePools} from '../pools/database-pools.js';
import {redact} from '../redact.js';
import type {RedisClient} from '../redis/redis-client.js';
import {agentStateKey, agentStateLogKey, agentStatePartition, STATE_FIELDS} from './agent-state-layout.js';
import {CONSISTENCY_LEVELS, type ConsistencyLevel} from './consistency-level.js';
import {stateInvalidateScript, stateSetScript, stateWriteBehindScript} from './state-scripts.js';

/** How long an eventual copy lives in Redis once PostgreSQL has it (default of `eventualTtlMs`). */
export const DEFAULT_EVENTUAL_TTL_MS = 15 * 60_000;

/**
 * How long a postgres-first tombstone lives. It only has to outlast a read that loaded the row
 * before the commit (milliseconds); the outbox relay replaces it with the committed copy anyway.
 */
export const TOMBSTONE_TTL_MS = 10 * 60_000;

const UUID = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/;

// ioredis statuses in which a command would only wait for a server that is not there.
const REDIS_DOWN = new Set(['reconnecting', 'close', 'end']);

export type DualStoreCoordinatorOptions = {
	/** Writes and reads go to the `primary` pool: a replica would break read-your-writes. */
	pools: Pick<DatabasePools, 'query'>;
	/** The connection to the server that holds agent state (AGENT_STATE_REDIS_ROLE). */
	redis: RedisClient;
	/** The key environment (MSDB_ENV). */
	env: string;
	/** The level of writes that name none (default `strong`). */
	defaultLevel?: ConsistencyLevel;
	/** TTL of an eventual copy once PostgreSQL has it (default 15 min). */
	eventualTtlMs?: number;
	/**
	 * Cache entries derived from an agent's state, invalidated (in every instance's L1 and in L2)
	 * after each acknowledged write. `keys` defaults to `agent-state:<agentId>`.
	 */
	cache?: {cache: Pick<Cache, 'invalidate'>; keys?: (agentId: string) => string | readonly string[]} | undefined;
};

export type AgentStateWriteOptions = {
	/** Default: the coordinator's `defaultLevel`. */
	level?: ConsistencyLevel;
	/**
	 * Optimistic concurrency: write only if the state is at this version now (0: no state yet);
	 * otherwise E_VERSION_CONFLICT with `details.actual`.
	 */
	expectedVersion?: number;
};

/** An acknowledged write. */
export type AgentStateWriteResult = {
	agentId: string;
	/** The version the write created: the previous one + 1. */
	version: number;
	level: ConsistencyLevel;
	/** ISO 8601, when this call acknowledged the write. */
	acknowledgedAt: string;
};

/** An agent's state and where it was read. */
export type AgentStateRead = {
	agentId: string;
	state: unknown;
	version: number;
	source: 'redis' | 'postgres';
};

/** Counters since the coordinator was created. */
export type DualStoreStats = {
	/** Acknowledged writes by level. */
	acknowledged: Record<ConsistencyLevel, number>;
	/** Writes refused with nothing written: Redis down (strong, redis-first, eventual), a version conflict. */
	refused: number;
	/** Strong writes committed to PostgreSQL whose Redis copy could not be updated (E_STATE_UNACKNOWLEDGED). */
	unacknowledged: number;
	/** Redis-first and eventual writes whose Lua call failed without an answer: applied or not, nobody knows. */
	inDoubt: number;
	/** Postgres-first writes acknowledged although their immediate invalidation failed (the relay does it). */
	invalidationsDeferred: number;
	reads: {redis: number; postgres: number; none: number};
	/** Reads that went to PostgreSQL because Redis did not answer (not counted: misses). */
	readFallbacks: number;
	/** Copies put into Redis by reads that missed. */
	warmed: number;
	cacheInvalidationFailures: number;
};

type WriteBehindReply = [status: 'ok' | 'missing' | 'behind' | 'conflict', version: string, entryId?: string];

/**
 * Writes and reads `agents.state` with its Redis copy at a chosen consistency level. What each
 * level guarantees, costs and can lose is in the README ("Dual-store consistency"); in short:
 *
 * - `strong`: one PostgreSQL statement writes the row (version + 1) and an outbox row; after the
 *   commit a version-checked compare-and-set puts the version into Redis. Acknowledged only when
 *   both happened, so any read after the acknowledgement (any process) sees that version or a
 *   newer one. Redis down before the write: refused, nothing written (E_REDIS_UNAVAILABLE). Redis
 *   failing between commit and compare-and-set: E_STATE_UNACKNOWLEDGED (`details.committed`);
 *   the write is durable and the outbox relay puts it into Redis.
 * - `postgres-first`: the same statement; after the commit the Redis copy is replaced by a
 *   tombstone, then acknowledged whether or not Redis answered. Stays available while Redis is
 *   down; until the outbox relay gets through then, reads may return the previous version.
 * - `redis-first`: one Lua step takes the next version from the Redis copy, writes it and appends
 *   a write-behind entry; acknowledged then. `msdb worker` persists entries to PostgreSQL. A Redis
 *   crash without persistence loses the acknowledged writes the writer had not read yet.
 * - `eventual`: redis-first, and the copy expires `eventualTtlMs` after it was persisted.
 *
 * Reads: the Redis copy; else PostgreSQL, and the row is put into Redis (a version-checked
 * warm-up, so a slow read can never put back an older version). Versions never go backwards: the
 * Lua scripts compare versions, and PostgreSQL upserts only `WHERE version < EXCLUDED.version`.
 *
 * Use one level per agent. Mixing is safe for versions (no store goes backwards) but a strong and
 * a redis-first write racing on one agent can take the same version with different states.
 *
 * Change events are not published here but by the relays, after PostgreSQL has the change and in
 * version order per agent, which concurrent writers in several processes could not promise.
 */
export class DualStoreCoordinator {
	readonly env: string;
	readonly defaultLevel: ConsistencyLevel;
	readonly eventualTtlMs: number;
	readonly #pools: Pick<DatabasePools, 'query'>;
	readonly #redis: RedisClient;
	readonly #cache: DualStoreCoordinatorOptions['cache'];
	#seenReady = false;
	readonly #stats: DualStoreStats = {
		acknowledged: {strong: 0, 'postgres-first': 0, 'redis-first': 0, eventual: 0},
		refused: 0,
		unacknowledged: 0,
		inDoubt: 0,
		invalidationsDeferred: 0,
		reads: {redis: 0, postgres: 0, none: 0},
		readFallbacks: 0,
		warmed: 0,
		cacheInvalidationFailures: 0,
	};

	constructor(options: DualStoreCoordinatorOptions) {
		this.#pools = options.pools;
		this.#redis = options.redis;
		this.env = options.env;
		this.defaultLevel = options.defaultLevel ?? 'strong';
		this.eventualTtlMs = options.eventualTtlMs ?? DEFAULT_EVENTUAL_TTL_MS;
		this.#cache = options.cache;
		checkLevel(this.defaultLevel);
		if (!Number.isSafeInteger(this.eventualTtlMs) || this.eventualTtlMs <= 0) {
			throw new ActionableError('E_CONFIG_INVALID', `eventualTtlMs must be a positive whole number of milliseconds, not ${this.eventualTtlMs}.`, {
				nextStep: 'Pass eventualTtlMs such as 900000 (15 min), or leave it out.',
			});
		}
	}

	/** Counters since creation (a copy). */
	stats(): DualStoreStats {
		return structuredClone(this.#stats);
	}

	/**
	 * Writes an agent's state (any JSON value) at `options.level`, and resolves once the write is
	 * acknowledged as that level defines it. Rejects with E_VERSION_CONFLICT (expectedVersion not
	 * met, nothing written), E_REDIS_UNAVAILABLE (`details.applied`: false when nothing was
	 * written, 'unknown' when a redis-first call got no answer), E_STATE_UNACKNOWLEDGED (strong:
	 * committed, not acknowledged), E_BAD_ARGUMENT (bad id, unknown agent, a value PostgreSQL
	 * cannot store).
	 */
	async write(agentId: string, state: unknown, options: AgentStateWriteOptions = {}): Promise<AgentStateWriteResult> {
		const level = options.level ?? this.defaultLevel;
		checkLevel(level);
		checkAgentId(agentId);
		const json = serializeState(agentId, state);
		const expected = options.expectedVersion;
		if (expected !== undefined && (!Number.isSafeInteger(expected) || expected < 0)) {
			throw new ActionableError('E_BAD_ARGUMENT', `expectedVersion must be a whole number ≥ 0, not ${expected}.`, {nextStep: 'Pass the version a read returned, or 0 for "no state yet".'});
		}

		const version = level === 'strong' || level === 'postgres-first' ? await this.#writeThrough(agentId, json, level, expected) : await this.#writeBehind(agentId, json, level, expected);
		this.#stats.acknowledged[level]++;
		await this.#invalidateCache(agentId);
		return {agentId, version, level, acknowledgedAt: new Date().toISOString()};
	}

	/**
	 * The agent's state: the Redis copy, else PostgreSQL (then warmed into Redis). Undefined when
	 * the agent has no state. Redis being down costs a PostgreSQL read, never an error.
	 */
	async read(agentId: string): Promise<AgentStateRead | undefined> {
		checkAgentId(agentId);
		const key = agentStateKey(this.env, agentId);
		let missed = false;
		if (this.#redisUsable()) {
			try {
				const [version = null, state = null] = await this.#redis.hmget(key, STATE_FIELDS.version, STATE_FIELDS.state);
				if (version !== null && state !== null) {
					this.#stats.reads.redis++;
					return {agentId, state: JSON.parse(state) as unknown, version: Number(version), source: 'redis'};
				}

				missed = true;
			} catch {
				this.#stats.readFallbacks++;
			}
		} else {
			this.#stats.readFallbacks++;
		}

		const result = await this.#pools.query<{state: string; version: string}>('primary', 'SELECT state::text AS state, version::text AS version FROM agents.state WHERE agent_id = $1', [agentId]);
		const row = result.rows[0];
		if (!row) {
			this.#stats.reads.none++;
			return undefined;
		}

		this.#stats.reads.postgres++;
		// Only after Redis answered "no copy": after an error it is likely down, and a warm-up
		// would wait for its deadline. The script keeps a newer copy or tombstone.
		if (missed) {
			try {
				const [outcome] = (await stateSetScript.run(this.#redis, [key], [row.version, row.state, '0'])) as [number, string];
				if (outcome > 0) {
					this.#stats.warmed++;
				}
			} catch {
				// The read itself succeeded; the next one warms.
			}
		}

		return {agentId, state: JSON.parse(row.state) as unknown, version: Number(row.version), source: 'postgres'};
	}

	async #writeThrough(agentId: string, json: string, level: 'strong' | 'postgres-first', expected: number | undefined): Promise<number> {
		if (level === 'strong' && !this.#redisUsable()) {
			this.#stats.refused++;
			throw redisDown(agentId, level);
		}

		const text = expected === undefined ? UPSERT_SQL : expected === 0 ? INSERT_FIRST_SQL : UPDATE_EXPECTED_SQL;
		let version: number;
		try {
			const result = await this.#pools.query<{version: string}>('primary', text, [agentId, json, level, ...(expected === undefined ? [] : [expected])]);
			const row = result.rows[0];
			if (!row) {
				this.#stats.refused++;
				throw await this.#conflict(agentId, expected ?? 0);
			}

			version = Number(row.version);
		} catch (error) {
			throw postgresWriteError(error, agentId);
		}

		const key = agentStateKey(this.env, agentId);
		if (level === 'strong') {
			try {
				await stateSetScript.run(this.#redis, [key], [String(version), json, '0']);
			} catch (error) {
				this.#stats.unacknowledged++;
				throw new ActionableError(
					'E_STATE_UNACKNOWLEDGED',
					redact(`The strong write of agent ${agentId} is committed to PostgreSQL as version ${version}, but Redis did not take it (${(error as Error).message}); it is not acknowledged.`),
					{
						nextStep: 'The write is durable: do not repeat it blindly. The outbox relay of `msdb worker` puts it into Redis; until then reads may return the previous version.',
						details: {agentId, version, level, committed: true},
						cause: error,
					},
				);
			}
		} else if (this.#redisUsable()) {
			try {
				await stateInvalidateScript.run(this.#redis, [key], [String(version), String(TOMBSTONE_TTL_MS)]);
			} catch {
				this.#stats.invalidationsDeferred++;
			}
		} else {
			this.#stats.invalidationsDeferred++;
		}

		return version;
	}

	async #writeBehind(agentId: string, json: string, level: 'redis-first' | 'eventual', expected: number | undefined): Promise<number> {
		if (!this.#redisUsable()) {
			this.#stats.refused++;
			throw redisDown(agentId, level);
		}

		const keys = [agentStateKey(this.env, agentId), agentStateLogKey(this.env, agentStatePartition(agentId))];
		const changedAt = new Date().toISOString();
		const ttl = level === 'eventual' ? String(this.eventualTtlMs) : '0';
		let postgresVersion = '';
		// Twice is enough: the first call finds no copy, the second continues from PostgreSQL's
		// version. A third only when a tombstone newer than that reading appeared meanwhile.
		for (let attempt = 0; attempt < 3; attempt++) {
			let reply: WriteBehindReply;
			try {
				reply = (await stateWriteBehindScript.run(this.#redis, keys, [agentId, json, expected === undefined ? '' : String(expected), postgresVersion, level, changedAt, ttl])) as WriteBehindReply;
			} catch (error) {
				this.#stats.inDoubt++;
				throw new ActionableError('E_REDIS_UNAVAILABLE', redact(`Redis did not answer the ${level} write of agent ${agentId}: ${(error as Error).message}`), {
					nextStep: 'The write may or may not have been applied: read the state, then write again if it is not there.',
					details: {agentId, level, applied: 'unknown'},
					cause: error,
				});
			}

			const [status, version] = reply;
			if (status === 'ok') {
				return Number(version);
			}

			if (status === 'conflict') {
				this.#stats.refused++;
				throw conflictError(agentId, expected ?? 0, Number(version));
			}

			postgresVersion = String(await this.#postgresVersion(agentId));
		}

		this.#stats.refused++;
		throw new ActionableError('E_VERSION_CONFLICT', `Redis holds a tombstone of agent ${agentId} newer than PostgreSQL's version: postgres-first writes of this agent are in flight.`, {
			nextStep: 'Write each agent at one consistency level; retry the write.',
			details: {agentId, level},
		});
	}

	/**
	 * PostgreSQL's version of the agent (0 without a row), once no write-behind batch holding it
	 * is still committing (agents.write_behind_base_version, migration 12); refuses an agent that
	 * does not exist.
	 */
	async #postgresVersion(agentId: string): Promise<number> {
		const result = await this.#pools.query<{version: string | null}>('primary', 'SELECT agents.write_behind_base_version($1)::text AS version', [agentId]);
		const version = result.rows[0]?.version ?? null;
		if (version === null) {
			throw unknownAgent(agentId);
		}

		return Number(version);
	}

	async #conflict(agentId: string, expected: number): Promise<ActionableError> {
		const result = await this.#pools.query<{version: string}>('primary', 'SELECT version::text AS version FROM agents.state WHERE agent_id = $1', [agentId]);
		return conflictError(agentId, expected, Number(result.rows[0]?.version ?? 0));
	}

	async #invalidateCache(agentId: string): Promise<void> {
		if (!this.#cache) {
			return;
		}

		try {
			const outcome = await this.#cache.cache.invalidate(this.#cache.keys?.(agentId) ?? `agent-state:${agentId}`);
			if (outcome.l2 === 'unavailable' || outcome.broadcast === 'failed') {
				this.#stats.cacheInvalidationFailures++;
			}
		} catch {
			this.#stats.cacheInvalidationFailures++;
		}
	}

	/**
	 * False while the connection is down: a command would wait in the offline queue for its
	 * deadline. During an outage ioredis goes through 'connecting' on every attempt, so once the
	 * connection has been seen ready, only 'ready' counts; before that (a coordinator made with a
	 * fresh client) the first connection is worth waiting for.
	 */
	#redisUsable(): boolean {
		const {status} = this.#redis;
		if (status === 'ready') {
			this.#seenReady = true;
			return true;
		}

		return !this.#seenReady && !REDIS_DOWN.has(status);
	}
}

// One statement, so one round trip and one atomic commit: the row (version + 1) and its outbox
// row. The outbox id is drawn after the upsert took the row lock, so for one agent ids follow
// versions. $1 agent, $2 state JSON, $3 level, $4 expected version.
const OUTBOX_INSERT = `INSERT INTO agents.state_outbox (agent_id, version, level, state, created_at)
SELECT agent_id, version, $3::text, state, updated_at FROM written
RETURNING version::text AS version`;

const UPSERT_SQL = `WITH written AS (
	INSERT INTO agents.state AS current (agent_id, state, version, updated_at) VALUES ($1, $2::jsonb, 1, now())
	ON CONFLICT (agent_id) DO UPDATE SET state = EXCLUDED.state, version = current.version + 1, updated_at = EXCLUDED.updated_at
	RETURNING agent_id, version, state, updated_at
)
${OUTBOX_INSERT}`;

// Expected 0: "no state yet" (no row, or a row still at version 0).
const INSERT_FIRST_SQL = `WITH written AS (
	INSERT INTO agents.state AS current (agent_id, state, version, updated_at) VALUES ($1, $2::jsonb, 1, now())
	ON CONFLICT (agent_id) DO UPDATE SET state = EXCLUDED.state, version = current.version + 1, updated_at = EXCLUDED.updated_at
	WHERE current.version = $4
	RETURNING agent_id, version, state, updated_at
)
${OUTBOX_INSERT}`;

const UPDATE_EXPECTED_SQL = `WITH written AS (
	UPDATE agents.state SET state = $2::jsonb, version = version + 1, updated_at = now()
	WHERE agent_id = $1 AND version = $4
	RETURNING agent_id, version, state, updated_at
)
${OUTBOX_INSERT}`;

function checkLevel(level: ConsistencyLevel): void {
	if (!CONSISTENCY_LEVELS.includes(level)) {
		throw new ActionableError('E_BAD_ARGUMENT', `Unknown consistency level ${JSON.stringify(level)}.`, {nextStep: `Use one of: ${CONSISTENCY_LEVELS.join(', ')}.`});
	}
}

function checkAgentId(agentId: string): void {
	// Lower case only: PostgreSQL prints uuids in lower case, and the Redis key is the id as given.
	if (!UUID.test(agentId)) {
		throw new ActionableError('E_BAD_ARGUMENT', `Agent id ${JSON.stringify(agentId)} is not a lower-case uuid.`, {nextStep: 'Pass agents.agents.id as PostgreSQL prints it.'});
	}
}

function serializeState(agentId: string, state: unknown): string {
	let json: string | undefined;
	try {
		json = JSON.stringify(state);
	} catch (error) {
		throw new ActionableError('E_BAD_ARGUMENT', `The state of agent ${agentId} cannot be written as JSON: ${(error as Error).message}`, {nextStep: 'Pass plain data (objects, arrays, strings, numbers, booleans, null).', cause: error});
	}

	if (json === undefined) {
		throw new ActionableError('E_BAD_ARGUMENT', `The state of agent ${agentId} is not a JSON value (${typeof state}).`, {nextStep: 'Pass plain data; use null for "no state".'});
	}

	// Refused here, not by PostgreSQL later: a redis-first write would be acknowledged and then
	// fail in the write-behind writer, where nobody can fix it.
	if (json.includes('\\u0000')) {
		throw new ActionableError('E_BAD_ARGUMENT', `The state of agent ${agentId} contains a NUL character (\\u0000), which PostgreSQL jsonb cannot store.`, {nextStep: 'Remove or escape NUL characters in strings of the state.'});
	}

	return json;
}

function redisDown(agentId: string, level: ConsistencyLevel): ActionableError {
	return new ActionableError('E_REDIS_UNAVAILABLE', `Redis is not connected: the ${level} write of agent ${agentId} was refused; nothing was written.`, {
		nextStep: level === 'strong' ? 'Retry when Redis is back, or write at postgres-first, which does not need Redis to acknowledge.' : 'Retry when Redis is back, or write at strong or postgres-first.',
		details: {agentId, level, applied: false},
	});
}

function conflictError(agentId: string, expected: number, actual: number): ActionableError {
	return new ActionableError('E_VERSION_CONFLICT', `Agent ${agentId} is at version ${actual}, not the expected ${expected}; nothing was written.`, {
		nextStep: 'Read the state again, apply the change to it, and write with the new expectedVersion.',
		details: {agentId, expected, actual},
	});
}

function unknownAgent(agentId: string): ActionableError {
	return new ActionableError('E_BAD_ARGUMENT', `There is no agent ${agentId} in agents.agents.`, {nextStep: 'Create the agent first; state belongs to an existing agent.', details: {agentId}});
}

function postgresWriteError(error: unknown, agentId: string): unknown {
	const code = (error as {code?: unknown}).code;
	if (code === '23503') {
		return unknownAgent(agentId);
	}

	if (code === '42P01' || code === '3F000') {
		return new ActionableError('E_SQL_FAILED', `agents.state or agents.state_outbox does not exist: ${(error as Error).message}`, {
			nextStep: 'Apply the framework schema (`msdb migrate apply`; the outbox is migration 12).',
			cause: error,
		});
	}

	return error;
}
