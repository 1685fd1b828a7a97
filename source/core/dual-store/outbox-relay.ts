import type pg from 'pg';
import {redisKey} from '../redis/key-names.js';
import type {RedisClient} from '../redis/redis-client.js';
import {AGENT_STATE_DOMAIN, agentStateKey} from './agent-state-layout.js';
import type {AgentStateChange} from './agent-state-events.js';
import type {ConsistencyLevel} from './consistency-level.js';
import {stateDropScript, stateSetScript} from './state-scripts.js';

/** Where change events go: an AgentStateEventPublisher, or anything with its publish(). */
export type StateChangePublisher = {publish(change: AgentStateChange): Promise<void>};

/**
 * An outbox row at least this old whose Redis copy was behind counts as a repair: the strong
 * write-through (deadline: the command timeout, 1 s by default) did not land.
 */
export const REPAIR_AFTER_MS = 2000;

/** Rows per batch of the outbox relay and of the re-warm (default of `batchSize`). */
export const DEFAULT_RELAY_BATCH_SIZE = 500;

export type OutboxRelayOptions = {
	/** The connection to the server that holds agent state. */
	redis: RedisClient;
	/** The key environment (MSDB_ENV). */
	env: string;
	/** Change events, published after PostgreSQL committed the change, in version order per agent. */
	events?: StateChangePublisher | undefined;
	batchSize?: number;
	/**
	 * After Redis lost its data (a restart without persistence, a flush), put every agents.state
	 * row back into Redis, a batch per pass, so readers do not all fall through to PostgreSQL at
	 * once and the copies match PostgreSQL again (default true).
	 */
	rewarm?: boolean;
};

/** What one drain did. */
export type OutboxDrainOutcome = {
	/** Outbox rows relayed (Redis brought up to date, event published, row deleted). */
	relayed: number;
	/** Redis copies older than PostgreSQL that the relay replaced: write-throughs that did not land. */
	repairs: number;
	/** Copies written where Redis had none (a tombstone, a key lost with Redis) or the writer's own write-through was still on its way. */
	filled: number;
	/** Copies of agents deleted since, removed. */
	dropped: number;
	/** agents.state rows put back into Redis by the re-warm. */
	rewarmed: number;
	/** The re-warm started in this drain (Redis had lost its data). */
	rewarmStarted: boolean;
	/** The re-warm reached the last agent in this drain. */
	rewarmFinished: boolean;
};

/** Counters since the relay was created, and the latest lag. */
export type OutboxRelayStats = Omit<OutboxDrainOutcome, 'rewarmStarted' | 'rewarmFinished'> & {
	/** Drains that failed (the rows stay; `attempts` and `last_error` say so on them). */
	failures: number;
	/** Age of the oldest row when the last batch was read, ms; 0 when the outbox was empty. */
	lagMs: number;
	/** Re-warms started (one per loss of Redis data noticed). */
	rewarms: number;
};

type OutboxRow = {
	id: string;
	agent_id: string;
	version: string;
	level: ConsistencyLevel;
	state: string;
	created_at: Date;
	current_version: string | null;
	current_state: string | null;
	age_ms: number;
};

// The current row rides along: Redis gets the latest committed version in one step per agent,
// however many rows of that agent the batch holds.
const BATCH_SQL = `SELECT o.id::text AS id, o.agent_id::text AS agent_id, o.version::text AS version, o.level, o.state::text AS state,
	o.created_at, s.version::text AS current_version, s.state::text AS current_state,
	(extract(epoch FROM clock_timestamp() - o.created_at) * 1000)::float8 AS age_ms
FROM agents.state_outbox o LEFT JOIN agents.state s ON s.agent_id = o.agent_id
ORDER BY o.id
LIMIT $1`;

/** The key that says how far the re-warm of this Redis got: `from:<agent id>` or `done`. */
export function rewarmMarkerKey(env: string): string {
	return redisKey({env, domain: `${AGENT_STATE_DOMAIN}-warm`});
}

/**
 * Relays `agents.state_outbox` (written by strong and postgres-first writes in their transaction):
 * for each batch, oldest first, brings each agent's Redis copy up to PostgreSQL's current version
 * (a version-checked set: a copy that is newer is kept), publishes one change event per row in id
 * order — per agent that is version order — and deletes the rows. Delivery is at least once: a
 * relay that dies before the delete relays those rows again (the set is idempotent, events
 * repeat and followers deduplicate by agent and version).
 *
 * Run by one process at a time (the worker duty holds an advisory lock); the order of events
 * depends on it.
 */
export class OutboxRelay {
	readonly #redis: RedisClient;
	readonly #env: string;
	readonly #events: StateChangePublisher | undefined;
	readonly #batchSize: number;
	readonly #rewarm: boolean;
	readonly #stats: OutboxRelayStats = {relayed: 0, repairs: 0, filled: 0, dropped: 0, rewarmed: 0, failures: 0, lagMs: 0, rewarms: 0};

	constructor(options: OutboxRelayOptions) {
		this.#redis = options.redis;
		this.#env = options.env;
		this.#events = options.events;
		this.#batchSize = options.batchSize ?? DEFAULT_RELAY_BATCH_SIZE;
		this.#rewarm = options.rewarm ?? true;
	}

	/** Counters since creation (a copy). */
	stats(): OutboxRelayStats {
		return {...this.#stats};
	}

	/**
	 * Relays batches until the outbox is empty (and the re-warm, if one is under way, is done) or
	 * `signal` fires. `client` runs the statements (the worker passes its duty's connection).
	 */
	async drain(client: pg.ClientBase, signal?: AbortSignal): Promise<OutboxDrainOutcome> {
		const outcome: OutboxDrainOutcome = {relayed: 0, repairs: 0, filled: 0, dropped: 0, rewarmed: 0, rewarmStarted: false, rewarmFinished: false};
		try {
			for (;;) {
				const rows = await this.#relayBatch(client, outcome);
				const warmed = this.#rewarm ? await this.#rewarmStep(client, outcome) : 0;
				if ((rows < this.#batchSize && warmed < this.#batchSize) || signal?.aborted) {
					return outcome;
				}
			}
		} catch (error) {
			this.#stats.failures++;
			throw error;
		}
	}

	async #relayBatch(client: pg.ClientBase, outcome: OutboxDrainOutcome): Promise<number> {
		const {rows} = await client.query<OutboxRow>(BATCH_SQL, [this.#batchSize]);
		this.#stats.lagMs = rows[0]?.age_ms ?? 0;
		if (rows.length === 0) {
			return 0;
		}

		try {
			const byAgent = new Map<string, OutboxRow[]>();
			for (const row of rows) {
				const list = byAgent.get(row.agent_id) ?? [];
				list.push(row);
				byAgent.set(row.agent_id, list);
			}

			await Promise.all([...byAgent.values()].map(async agentRows => this.#bringUpToDate(agentRows, outcome)));
			if (this.#events) {
				const events = this.#events;
				// One agent's rows one after the other (the publisher keeps that order), agents side by side.
				await Promise.all(
					[...byAgent.values()].map(async agentRows => {
						for (const row of agentRows) {
							await events.publish({agentId: row.agent_id, version: Number(row.version), state: JSON.parse(row.state) as unknown, level: row.level, changedAt: row.created_at.toISOString()});
						}
					}),
				);
			}

			await client.query('DELETE FROM agents.state_outbox WHERE id = ANY($1::bigint[])', [rows.map(row => row.id)]);
		} catch (error) {
			// Best effort: the rows stay either way, and this only tells operators why.
			await client
				.query('UPDATE agents.state_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::bigint[])', [rows.map(row => row.id), (error as Error).message.slice(0, 1000)])
				.catch(() => {});
			throw error;
		}

		outcome.relayed += rows.length;
		this.#stats.relayed += rows.length;
		return rows.length;
	}

	/** One agent's Redis copy to PostgreSQL's current row (every row of the batch carries it), or gone with the row. */
	async #bringUpToDate(agentRows: readonly OutboxRow[], outcome: OutboxDrainOutcome): Promise<void> {
		const last = agentRows.at(-1);
		if (!last) {
			return;
		}

		const key = agentStateKey(this.#env, last.agent_id);
		if (last.current_version === null || last.current_state === null) {
			const dropped = (await stateDropScript.run(this.#redis, [key], [last.version])) as number;
			outcome.dropped += dropped;
			this.#stats.dropped += dropped;
			return;
		}

		const [result] = (await stateSetScript.run(this.#redis, [key], [last.current_version, last.current_state, '0'])) as [number, string];
		// An older copy next to a row younger than the write-through's deadline may only mean the
		// writer's own compare-and-set has not arrived yet: a repair only past that.
		if (result === 2 && (agentRows[0]?.age_ms ?? 0) >= REPAIR_AFTER_MS) {
			outcome.repairs++;
			this.#stats.repairs++;
		} else if (result > 0) {
			outcome.filled++;
			this.#stats.filled++;
		}
	}

	/**
	 * One batch of the re-warm, if one is due. A missing marker means this Redis never had the
	 * copies or lost them; the marker is created first, so a loss during the re-warm (marker gone
	 * again) starts it over rather than resuming past agents the new server never got.
	 */
	async #rewarmStep(client: pg.ClientBase, outcome: OutboxDrainOutcome): Promise<number> {
		const key = rewarmMarkerKey(this.#env);
		let marker = await this.#redis.get(key);
		if (marker === null) {
			await this.#redis.set(key, 'from:', 'NX');
			marker = await this.#redis.get(key);
			outcome.rewarmStarted = true;
			this.#stats.rewarms++;
		}

		if (marker === null || !marker.startsWith('from:')) {
			return 0;
		}

		const after = marker.slice('from:'.length);
		const {rows} = await client.query<{agent_id: string; version: string; state: string}>(
			after === ''
				? 'SELECT agent_id::text AS agent_id, version::text AS version, state::text AS state FROM agents.state ORDER BY agent_id LIMIT $1'
				: 'SELECT agent_id::text AS agent_id, version::text AS version, state::text AS state FROM agents.state WHERE agent_id > $2::uuid ORDER BY agent_id LIMIT $1',
			after === '' ? [this.#batchSize] : [this.#batchSize, after],
		);
		const results = await Promise.all(rows.map(async row => stateSetScript.run(this.#redis, [agentStateKey(this.#env, row.agent_id)], [row.version, row.state, '0']) as Promise<[number, string]>));
		const written = results.filter(([result]) => result > 0).length;
		outcome.rewarmed += written;
		this.#stats.rewarmed += written;
		const next = rows.length < this.#batchSize ? 'done' : `from:${rows.at(-1)?.agent_id ?? ''}`;
		// XX: if Redis lost the marker meanwhile, the next pass starts over.
		await this.#redis.set(key, next, 'XX');
		if (next === 'done') {
			outcome.rewarmFinished = true;
		}

		return rows.length;
	}
}
