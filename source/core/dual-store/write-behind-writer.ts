import {hostname} from 'node:os';
import {randomBytes} from 'node:crypto';
import type pg from 'pg';
import type {RedisClient} from '../redis/redis-client.js';
import {AGENT_STATE_PARTITIONS, agentStateKey, agentStateLogKey} from './agent-state-layout.js';
import {CONSISTENCY_LEVELS, type ConsistencyLevel} from './consistency-level.js';
import {DEFAULT_RELAY_BATCH_SIZE, type StateChangePublisher} from './outbox-relay.js';
import {logAckScript, stateDropScript, statePersistedScript} from './state-scripts.js';

/**
 * Class id of the per-agent advisory locks between the writer and redis-first writes that find
 * no copy ("msdb" in ASCII; agents.write_behind_base_version, migration 12, uses the same).
 */
export const WRITE_BEHIND_LOCK_CLASS = 1_836_278_882;

/**
 * The lock of an agent is one of 1024 buckets (hashtext of the id): a batch of thousands of
 * agents then takes at most 1024 locks, far inside PostgreSQL's lock table. Two agents sharing a
 * bucket only ever wait a little longer.
 */
const WRITE_BEHIND_LOCK_BUCKET_SQL = (column: string) => `(hashtext(${column}::text) & 1023)`;

/** During a long drain, partitions that were not ready are looked at again after this long. */
const ADMIT_INTERVAL_MS = 1000;

/** The consumer group every write-behind writer reads the partition streams in. */
export const WRITE_BEHIND_GROUP = 'msdb-write-behind';

/**
 * How long another consumer's entries must have been idle before they are claimed (default of
 * `claimIdleMs`). Only one writer works at a time (the worker's advisory lock), so a consumer
 * with pending entries is one that died or lost its lock; the wait covers one that lost its
 * PostgreSQL session but has not noticed yet and is still between its commit and its ack.
 */
export const DEFAULT_CLAIM_IDLE_MS = 5000;

export type WriteBehindWriterOptions = {
	/** The connection to the server that holds agent state. */
	redis: RedisClient;
	/** The key environment (MSDB_ENV). */
	env: string;
	/** Change events, published after the PostgreSQL commit, in version order per agent. */
	events?: StateChangePublisher | undefined;
	/** This writer's consumer name in the group (default `<host>:<pid>:<random>`). */
	consumer?: string;
	/** Entries per read and per upsert (default 500). */
	batchSize?: number;
	claimIdleMs?: number;
	/** Told after each commit which entries PostgreSQL now holds (tests, observers). */
	onPersisted?: (entries: readonly PersistedEntry[]) => void;
};

/** A write-behind entry the writer is done with. */
export type PersistedEntry = {
	agentId: string;
	version: number;
	level: ConsistencyLevel;
	/**
	 * `applied`: PostgreSQL took this version (or a later one of the same batch); `stale`:
	 * PostgreSQL already had it or a newer one (a replay after a crash); `orphaned`: the agent was
	 * deleted; `rejected`: PostgreSQL refused the value (reported, dropped).
	 */
	outcome: 'applied' | 'stale' | 'orphaned' | 'rejected';
};

/** What one drain did. */
export type WriteBehindDrainOutcome = {
	/** Entries done with (acknowledged and deleted from the stream), whatever their outcome. */
	persisted: number;
	/** Entries of other consumers claimed (a writer that died). */
	claimed: number;
	orphaned: number;
	/** Entries PostgreSQL refused, with why: nobody can fix them, so they are dropped and said. */
	rejected: Array<{agentId: string; version: number; error: string}>;
	/** Consumers whose entries are not idle long enough to claim; their partitions wait. */
	waitingFor: string[];
	/**
	 * Entries read but gone from Redis by the time their batch was to be committed: Redis
	 * restarted without its data (acknowledged writes lost), or another writer claimed them.
	 */
	gone: number;
};

/** Counters since the writer was created, and the latest lag. */
export type WriteBehindStats = {
	persisted: number;
	claimed: number;
	orphaned: number;
	rejected: number;
	gone: number;
	failures: number;
	/** Age of the oldest entry of the last batch when it was committed, ms (0 before any). */
	lagMs: number;
};

type StreamEntry = [id: string, fields: string[] | null];

type ParsedEntry = {id: string; agentId: string; version: number; state: string; level: ConsistencyLevel; changedAt: string; ttlMs: number};

const UUID = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/;

// One row per agent (the batch's highest version), only for agents that exist; an agent deleted
// since is reported, not inserted (its foreign key would fail the whole batch).
const UPSERT_SQL = `WITH input AS (
	SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::timestamptz[]) AS u(agent_id, state, version, changed_at)
), known AS (
	SELECT input.* FROM input JOIN agents.agents a ON a.id = input.agent_id
), written AS (
	INSERT INTO agents.state AS current (agent_id, state, version, updated_at)
	SELECT agent_id, state::jsonb, version, changed_at FROM known ORDER BY agent_id
	ON CONFLICT (agent_id) DO UPDATE SET state = EXCLUDED.state, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
	WHERE current.version < EXCLUDED.version
	RETURNING agent_id
)
SELECT ARRAY(SELECT agent_id::text FROM written) AS applied,
	ARRAY(SELECT agent_id::text FROM input EXCEPT SELECT agent_id::text FROM known) AS orphans`;

/**
 * Persists redis-first and eventual writes: reads each partition's write-behind stream in the
 * consumer group, upserts a batch into `agents.state` in one statement (`WHERE version <
 * EXCLUDED.version`: a replayed or late entry never overwrites a newer version), and only after
 * the commit publishes the change events, starts the TTL of eventual copies, and acknowledges and
 * deletes the entries. A writer that dies between its read and its ack leaves its entries pending;
 * the next writer claims them (XAUTOCLAIM) once idle for `claimIdleMs`, and until then leaves that
 * partition alone, so no newer entry is persisted or announced before an older one.
 *
 * Run by one process at a time (the worker duty holds an advisory lock).
 */
export class WriteBehindWriter {
	/** This writer's name in the consumer group. */
	readonly consumer: string;
	readonly #redis: RedisClient;
	readonly #env: string;
	readonly #events: StateChangePublisher | undefined;
	readonly #batchSize: number;
	readonly #claimIdleMs: number;
	readonly #onPersisted: WriteBehindWriterOptions['onPersisted'];
	// Partitions where this consumer may have entries read but not acknowledged (a failed batch,
	// claimed entries): read from the start of its pending list before reading new entries.
	readonly #ownPending = new Set<number>();
	readonly #stats: WriteBehindStats = {persisted: 0, claimed: 0, orphaned: 0, rejected: 0, gone: 0, failures: 0, lagMs: 0};

	constructor(options: WriteBehindWriterOptions) {
		this.#redis = options.redis;
		this.#env = options.env;
		this.#events = options.events;
		this.#batchSize = options.batchSize ?? DEFAULT_RELAY_BATCH_SIZE;
		this.#claimIdleMs = options.claimIdleMs ?? DEFAULT_CLAIM_IDLE_MS;
		this.#onPersisted = options.onPersisted;
		this.consumer = options.consumer ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
	}

	/** Counters since creation (a copy). */
	stats(): WriteBehindStats {
		return {...this.#stats};
	}

	/**
	 * Persists entries until every partition's stream is drained (except partitions waiting for
	 * a dead consumer's entries to be claimable) or `signal` fires.
	 */
	async drain(client: pg.ClientBase, signal?: AbortSignal): Promise<WriteBehindDrainOutcome> {
		const outcome: WriteBehindDrainOutcome = {persisted: 0, claimed: 0, orphaned: 0, rejected: [], waitingFor: [], gone: 0};
		try {
			const ready: number[] = [];
			// Partitions not ready yet (no stream, or another consumer's entries not claimable yet)
			// are looked at again now and then: under steady load a drain can last long.
			const admit = async () => {
				for (const partition of await this.#partitionsWithStreams()) {
					if (!ready.includes(partition) && (await this.#claimForeign(partition, outcome))) {
						ready.push(partition);
					}
				}
			};

			await admit();
			let admittedAt = Date.now();
			// Every partition read at once, one commit for all: the cost of a pass does not grow with
			// the number of partitions (an agent lives in one partition, so its order is kept).
			const perPartition = Math.max(1, Math.ceil(this.#batchSize / 4));
			for (;;) {
				if (signal?.aborted) {
					return outcome;
				}

				if (ready.length < AGENT_STATE_PARTITIONS && Date.now() - admittedAt >= ADMIT_INTERVAL_MS) {
					await admit();
					admittedAt = Date.now();
				}

				const reads = await Promise.all(ready.map(async partition => ({partition, entries: await this.#read(partition, perPartition)})));
				const batches = reads.filter(({entries}) => entries.length > 0);
				if (batches.length === 0) {
					return outcome;
				}

				try {
					await this.#persist(client, batches, outcome);
				} catch (error) {
					// Read, not acknowledged: they are this consumer's pending entries now, read first next time.
					for (const {partition} of batches) {
						this.#ownPending.add(partition);
					}

					throw error;
				}
			}
		} catch (error) {
			this.#stats.failures++;
			throw error;
		}
	}

	/**
	 * Leaves the consumer group where this writer has nothing pending (a clean stop), so the
	 * group does not collect one dead consumer per worker start. Best effort.
	 */
	async retire(): Promise<void> {
		// Not while Redis is down: sixteen commands waiting for their deadline would only delay the stop.
		if (this.#redis.status !== 'ready') {
			return;
		}

		await Promise.all(
			Array.from({length: AGENT_STATE_PARTITIONS}, async (_, partition) => {
				if (this.#ownPending.has(partition)) {
					return;
				}

				await this.#redis.xgroup('DELCONSUMER', agentStateLogKey(this.#env, partition), WRITE_BEHIND_GROUP, this.consumer).catch(() => {});
			}),
		);
	}

	async #partitionsWithStreams(): Promise<number[]> {
		const exists = await Promise.all(Array.from({length: AGENT_STATE_PARTITIONS}, async (_, partition) => this.#redis.exists(agentStateLogKey(this.#env, partition))));
		return exists.flatMap((count, partition) => (count > 0 ? [partition] : []));
	}

	/**
	 * Claims the entries other consumers left pending once idle long enough. True when the
	 * partition can be read: no other consumer has entries pending any more.
	 */
	async #claimForeign(partition: number, outcome: WriteBehindDrainOutcome): Promise<boolean> {
		const key = agentStateLogKey(this.#env, partition);
		const others = await this.#foreignPending(key);
		if (others.length === 0) {
			return true;
		}

		let cursor = '0-0';
		let claimed = 0;
		do {
			const [next, ids] = (await this.#inGroup(key, async () => this.#redis.xautoclaim(key, WRITE_BEHIND_GROUP, this.consumer, this.#claimIdleMs, cursor, 'COUNT', this.#batchSize, 'JUSTID'))) as [string, string[]];
			cursor = next;
			claimed += ids.length;
		} while (cursor !== '0-0');
		if (claimed > 0) {
			this.#ownPending.add(partition);
			outcome.claimed += claimed;
			this.#stats.claimed += claimed;
		}

		const left = await this.#foreignPending(key);
		for (const name of others) {
			if (!left.includes(name)) {
				// All its entries are ours now: the dead consumer has nothing left to be remembered for.
				await this.#redis.xgroup('DELCONSUMER', key, WRITE_BEHIND_GROUP, name).catch(() => {});
			}
		}

		for (const name of left) {
			if (!outcome.waitingFor.includes(name)) {
				outcome.waitingFor.push(name);
			}
		}

		return left.length === 0;
	}

	/** Consumers other than this one with entries pending in the partition. */
	async #foreignPending(key: string): Promise<string[]> {
		const summary = (await this.#inGroup(key, async () => this.#redis.xpending(key, WRITE_BEHIND_GROUP))) as [number, string | null, string | null, Array<[string, string]> | null];
		return (summary[3] ?? []).filter(([name, count]) => name !== this.consumer && Number(count) > 0).map(([name]) => name);
	}

	/** This consumer's pending entries first (oldest), then new ones. */
	async #read(partition: number, count: number): Promise<StreamEntry[]> {
		const key = agentStateLogKey(this.#env, partition);
		if (this.#ownPending.has(partition)) {
			const pending = await this.#readGroup(key, '0', count);
			if (pending.length > 0) {
				return pending;
			}

			this.#ownPending.delete(partition);
		}

		return this.#readGroup(key, '>', count);
	}

	async #readGroup(key: string, from: '0' | '>', count: number): Promise<StreamEntry[]> {
		const reply = (await this.#inGroup(key, async () => this.#redis.xreadgroup('GROUP', WRITE_BEHIND_GROUP, this.consumer, 'COUNT', count, 'STREAMS', key, from))) as Array<[string, StreamEntry[]]> | null;
		return reply?.[0]?.[1] ?? [];
	}

	/**
	 * Runs a group command, creating the group (from the start of the stream) when the server
	 * does not know it: first use, or a Redis that restarted and lost it.
	 */
	async #inGroup<T>(key: string, command: () => Promise<T>): Promise<T> {
		try {
			return await command();
		} catch (error) {
			if (!(error instanceof Error) || !error.message.startsWith('NOGROUP')) {
				throw error;
			}

			await this.#redis.xgroup('CREATE', key, WRITE_BEHIND_GROUP, '0', 'MKSTREAM').catch((createError: unknown) => {
				if (!(createError instanceof Error) || !createError.message.startsWith('BUSYGROUP')) {
					throw createError;
				}
			});
			return command();
		}
	}

	async #persist(client: pg.ClientBase, batches: ReadonlyArray<{partition: number; entries: StreamEntry[]}>, outcome: WriteBehindDrainOutcome): Promise<void> {
		// Entries that cannot be parsed (none are written so) or were deleted meanwhile are only acknowledged.
		const parsed = batches.map(({partition, entries}) => ({
			partition,
			entries,
			parsed: entries.flatMap(([id, fields]) => {
				const entry = fields ? parseEntry(id, fields) : undefined;
				return entry ? [entry] : [];
			}),
		}));
		const committed = await this.#commit(client, parsed);
		const live = parsed.filter(({partition}) => !committed.gone.has(partition));
		for (const {partition, parsed: entries} of parsed) {
			if (committed.gone.has(partition)) {
				// Nothing to acknowledge: the entries are not in Redis any more (or not ours).
				outcome.gone += entries.length;
				this.#stats.gone += entries.length;
				this.#ownPending.delete(partition);
			}
		}

		const {applied, orphans, rejected} = committed;
		const all = live.flatMap(({parsed: entries}) => entries);
		const latest = latestPerAgent(all);
		// Entries below an agent's highest version count as applied when the highest was: PostgreSQL
		// went past them in the same commit.
		const done: PersistedEntry[] = all.map(entry => ({
			agentId: entry.agentId,
			version: entry.version,
			level: entry.level,
			outcome: orphans.has(entry.agentId) ? 'orphaned' : rejected.has(entry.agentId) ? 'rejected' : applied.has(entry.agentId) ? 'applied' : 'stale',
		}));
		if (this.#events) {
			const events = this.#events;
			const byAgent = new Map<string, ParsedEntry[]>();
			for (const entry of all) {
				if (!orphans.has(entry.agentId) && !rejected.has(entry.agentId)) {
					const list = byAgent.get(entry.agentId) ?? [];
					list.push(entry);
					byAgent.set(entry.agentId, list);
				}
			}

			// One agent's entries one after the other (the publisher keeps that order), agents side by side.
			await Promise.all(
				[...byAgent.values()].map(async agentEntries => {
					for (const entry of agentEntries) {
						await events.publish({agentId: entry.agentId, version: entry.version, state: JSON.parse(entry.state) as unknown, level: entry.level, changedAt: entry.changedAt});
					}
				}),
			);
		}

		await Promise.all(
			[...latest.values()].map(async entry => {
				const stateKey = agentStateKey(this.#env, entry.agentId);
				// A copy PostgreSQL will never have (agent deleted, value refused) must not be read as the state.
				if (orphans.has(entry.agentId) || rejected.has(entry.agentId)) {
					await stateDropScript.run(this.#redis, [stateKey], [String(entry.version)]);
				} else if (entry.ttlMs > 0) {
					await statePersistedScript.run(this.#redis, [stateKey], [String(entry.version), String(entry.ttlMs)]);
				}
			}),
		);
		await Promise.all(live.map(async ({partition, entries}) => logAckScript.run(this.#redis, [agentStateLogKey(this.#env, partition)], [WRITE_BEHIND_GROUP, ...entries.map(([id]) => id)])));
		const oldest = Math.min(...live.map(({entries}) => Number(entries[0]?.[0].split('-')[0] ?? Date.now())));
		this.#stats.lagMs = live.length > 0 ? Math.max(0, Date.now() - oldest) : this.#stats.lagMs;
		const count = live.reduce((sum, {entries}) => sum + entries.length, 0);
		this.#stats.persisted += count;
		outcome.persisted += count;
		const orphaned = done.filter(entry => entry.outcome === 'orphaned').length;
		outcome.orphaned += orphaned;
		this.#stats.orphaned += orphaned;
		for (const [agentId, error] of rejected) {
			outcome.rejected.push({agentId, version: latest.get(agentId)?.version ?? 0, error});
			this.#stats.rejected++;
		}

		this.#onPersisted?.(done);
	}

	/**
	 * Commits the batch in one transaction that first takes the write-behind locks of its agents
	 * (agents.write_behind_base_version, migration 12, waits for them) and then makes sure Redis
	 * still has each partition's entries pending for this writer. A batch read before a Redis crash
	 * therefore either commits before any write after the restart reads PostgreSQL's version, or
	 * not at all (`gone`: the restarted Redis no longer has them, or another writer claimed them).
	 *
	 * One upsert (an agent's highest version); if PostgreSQL refuses a value (a data or constraint
	 * error), agent by agent, so one bad entry does not hold up the rest forever.
	 */
	async #commit(
		client: pg.ClientBase,
		batches: ReadonlyArray<{partition: number; entries: StreamEntry[]; parsed: ParsedEntry[]}>,
	): Promise<{applied: Set<string>; orphans: Set<string>; rejected: Map<string, string>; gone: Set<number>}> {
		const run = async (rows: readonly ParsedEntry[]) => {
			const result = await client.query<{applied: string[]; orphans: string[]}>(UPSERT_SQL, [
				rows.map(row => row.agentId),
				rows.map(row => row.state),
				rows.map(row => String(row.version)),
				rows.map(row => row.changedAt),
			]);
			return {applied: new Set(result.rows[0]?.applied ?? []), orphans: new Set(result.rows[0]?.orphans ?? [])};
		};

		const rejected = new Map<string, string>();
		const gone = new Set<number>();
		await client.query('BEGIN');
		try {
			const agents = [...new Set(batches.flatMap(({parsed}) => parsed.map(entry => entry.agentId)))];
			await client.query(`SELECT pg_advisory_xact_lock(${WRITE_BEHIND_LOCK_CLASS}, bucket) FROM (SELECT DISTINCT ${WRITE_BEHIND_LOCK_BUCKET_SQL('id')} AS bucket FROM unnest($1::uuid[]) AS id) buckets`, [agents]);
			const pending = await Promise.all(batches.map(async ({partition, entries}) => ({partition, pending: await this.#stillPending(agentStateLogKey(this.#env, partition), entries[0]?.[0] ?? '0-0')})));
			for (const {partition, pending: still} of pending) {
				if (!still) {
					gone.add(partition);
				}
			}

			const rows = [...latestPerAgent(batches.filter(({partition}) => !gone.has(partition)).flatMap(({parsed}) => parsed)).values()];
			let result: {applied: Set<string>; orphans: Set<string>};
			await client.query('SAVEPOINT batch');
			try {
				result = rows.length === 0 ? {applied: new Set(), orphans: new Set()} : await run(rows);
			} catch (error) {
				if (!isDataError(error)) {
					throw error;
				}

				await client.query('ROLLBACK TO SAVEPOINT batch');
				result = {applied: new Set(), orphans: new Set()};
				for (const row of rows) {
					await client.query('SAVEPOINT one');
					try {
						const one = await run([row]);
						for (const id of one.applied) {
							result.applied.add(id);
						}

						for (const id of one.orphans) {
							result.orphans.add(id);
						}
					} catch (rowError) {
						if (!isDataError(rowError)) {
							throw rowError;
						}

						await client.query('ROLLBACK TO SAVEPOINT one');
						rejected.set(row.agentId, (rowError as Error).message);
					}
				}
			}

			await client.query('COMMIT');
			return {...result, rejected, gone};
		} catch (error) {
			await client.query('ROLLBACK').catch(() => {});
			throw error;
		}
	}

	/** Whether `id` is still pending for this consumer; a transient Redis failure throws (the batch is retried). */
	async #stillPending(key: string, id: string): Promise<boolean> {
		try {
			const pending = (await this.#redis.xpending(key, WRITE_BEHIND_GROUP, id, id, 1, this.consumer)) as unknown[];
			return pending.length > 0;
		} catch (error) {
			if (error instanceof Error && error.message.startsWith('NOGROUP')) {
				return false;
			}

			throw error;
		}
	}
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity constraint): the value, not the server. */
function isDataError(error: unknown): boolean {
	const code = (error as {code?: unknown}).code;
	return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/** Each agent's entry with the highest version. */
function latestPerAgent(entries: readonly ParsedEntry[]): Map<string, ParsedEntry> {
	const latest = new Map<string, ParsedEntry>();
	for (const entry of entries) {
		const seen = latest.get(entry.agentId);
		if (!seen || seen.version < entry.version) {
			latest.set(entry.agentId, entry);
		}
	}

	return latest;
}

function parseEntry(id: string, fields: readonly string[]): ParsedEntry | undefined {
	const map = new Map<string, string>();
	for (let index = 0; index + 1 < fields.length; index += 2) {
		map.set(fields[index] ?? '', fields[index + 1] ?? '');
	}

	const agentId = map.get('a') ?? '';
	const version = Number(map.get('v'));
	const state = map.get('s');
	const level = map.get('l') as ConsistencyLevel | undefined;
	if (!UUID.test(agentId) || !Number.isSafeInteger(version) || state === undefined || !level || !CONSISTENCY_LEVELS.includes(level)) {
		return undefined;
	}

	return {id, agentId, version, state, level, changedAt: map.get('t') ?? new Date().toISOString(), ttlMs: Number(map.get('x') ?? 0) || 0};
}
