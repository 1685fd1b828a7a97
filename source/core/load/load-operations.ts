/**
 * The operations of `msdb load`, done the way a framework service does them: through the core
 * library's pools (writes on `primary`, reads through `read()`), its multi-level cache and its
 * session store. The SQL is kept together here as data.
 *
 * What the load leaves behind, on purpose (it is a workload, and rows are what a workload makes):
 * tasks labelled `msdb-load`, messages with `metadata.source = 'msdb load'`, state rows of the
 * load's own agents, and up to one live session per agent in Redis, which expire after the
 * store's idle TTL (10 min). It never touches rows it did not create, except that claims take
 * only `msdb-load` tasks.
 */
import {randomInt, randomUUID} from 'node:crypto';
import type {MultiLevelCache} from '../cache/multi-level-cache.js';
import type {DatabasePools} from '../pools/database-pools.js';
import type {RedisSessionStore} from '../sessions/redis-session-store.js';
import type {OperationKind} from './workload-mix.js';

/** The label of the load's tasks: claims take only these. */
export const LOAD_TASK_LABEL = 'msdb-load';

/** The SQL of the operations. */
export const LOAD_QUERIES = {
	/** The cache's loader: the agent with its state version (a state write invalidates it). */
	agent: `
		SELECT a.id, a.name, a.kind, a.status, a.capabilities, a.config, a.row_version::text AS row_version,
		       coalesce(s.version, 0)::text AS state_version
		FROM agents.agents a LEFT JOIN agents.state s ON s.agent_id = a.id
		WHERE a.id = $1`,
	enqueue: `
		INSERT INTO tasks.tasks (title, priority, assigned_agent_id, payload, labels)
		VALUES ('load task', $1, $2, $3, ARRAY['${LOAD_TASK_LABEL}'])`,
	/** As workers claim: the next queued task by priority, skipping rows other claimers hold. */
	claim: `
		WITH next AS (
			SELECT id FROM tasks.tasks
			WHERE status = 'queued' AND scheduled_at <= now() AND labels @> ARRAY['${LOAD_TASK_LABEL}']
			ORDER BY priority DESC, scheduled_at, id
			LIMIT 1
			FOR UPDATE SKIP LOCKED
		)
		UPDATE tasks.tasks AS t
		SET status = 'running', started_at = now(), attempts = t.attempts + 1, assigned_agent_id = $1
		FROM next WHERE t.id = next.id
		RETURNING t.id`,
	complete: `
		UPDATE tasks.tasks SET status = 'succeeded', finished_at = now(), result = $2
		WHERE id = $1 AND status = 'running'`,
	message: `
		INSERT INTO messages.messages (conversation_id, sender_agent_id, role, content, metadata)
		VALUES ($1, $2, 'agent', $3, $4)`,
	/** Versions only go up (docs/schema.md): the upsert bumps the stored one. */
	state: `
		INSERT INTO agents.state (agent_id, state, version) VALUES ($1, $2, 1)
		ON CONFLICT (agent_id) DO UPDATE SET state = EXCLUDED.state, version = agents.state.version + 1, updated_at = now()
		RETURNING version::text AS version`,
} as const;

/** What an agent read returns (the cached value). */
export type LoadAgentRecord = {
	id: string;
	name: string;
	kind: string;
	status: string;
	capabilities: unknown;
	config: unknown;
	row_version: string;
	state_version: string;
};

/** What the operations work with. */
export type LoadWorkloadDependencies = {
	pools: DatabasePools;
	cache: MultiLevelCache;
	sessions: RedisSessionStore;
	agentIds: readonly string[];
};

/** Session idle TTL of the load's sessions: long enough to be read again, short enough to go soon after a run. */
export const LOAD_SESSION_IDLE_TTL_MS = 10 * 60 * 1000;

/** The cache key of an agent. */
export function agentCacheKey(agentId: string): string {
	return `agent:${agentId}`;
}

/** Performs operations by kind; resolves to true when the operation found nothing to do. */
export class LoadWorkload {
	readonly #pools: DatabasePools;
	readonly #cache: MultiLevelCache;
	readonly #sessions: RedisSessionStore;
	readonly #agentIds: readonly string[];
	/** One conversation per agent, made up per run. */
	readonly #conversations: string[];
	/** Tokens of the live sessions this run created, oldest first (secrets: never printed). */
	readonly #tokens: string[] = [];
	/** Live sessions kept: one per agent (at least 10), so churn both creates and destroys. */
	readonly #sessionTarget: number;
	#messageCount = 0;

	constructor(dependencies: LoadWorkloadDependencies) {
		if (dependencies.agentIds.length === 0) {
			throw new RangeError('The load needs at least one agent.');
		}

		this.#pools = dependencies.pools;
		this.#cache = dependencies.cache;
		this.#sessions = dependencies.sessions;
		this.#agentIds = dependencies.agentIds;
		this.#conversations = dependencies.agentIds.map(() => randomUUID());
		this.#sessionTarget = Math.max(10, dependencies.agentIds.length);
	}

	/** Runs one operation of `kind`; throws what the operation threw. */
	async perform(kind: OperationKind): Promise<boolean> {
		switch (kind) {
			case 'agent-read': {
				return this.#readAgent();
			}

			case 'session-get': {
				return this.#getSession();
			}

			case 'session-churn': {
				return this.#churnSession();
			}

			case 'task-enqueue': {
				return this.#enqueueTask();
			}

			case 'task-claim': {
				return this.#claimTask();
			}

			case 'message-insert': {
				return this.#insertMessage();
			}

			case 'state-write': {
				return this.#writeState();
			}
		}
	}

	#agent(): {index: number; id: string} {
		const index = randomInt(this.#agentIds.length);
		return {index, id: this.#agentIds[index]!};
	}

	async #readAgent(): Promise<boolean> {
		const {id} = this.#agent();
		const agent = await this.#cache.getOrLoad<LoadAgentRecord | null>(agentCacheKey(id), async () => {
			const {rows} = await this.#pools.read<LoadAgentRecord>(LOAD_QUERIES.agent, [id]);
			return rows[0] ?? null;
		});
		return agent === null;
	}

	async #getSession(): Promise<boolean> {
		const token = this.#tokens[randomInt(Math.max(1, this.#tokens.length))];
		if (token === undefined) {
			// Nothing to read yet: the first reads open sessions, as logins precede requests.
			await this.#createSession();
			return false;
		}

		// Churn may have destroyed it meanwhile: a miss, not an error.
		return (await this.#sessions.get(token)) === undefined;
	}

	async #churnSession(): Promise<boolean> {
		await this.#createSession();
		if (this.#tokens.length > this.#sessionTarget) {
			const oldest = this.#tokens.shift()!;
			await this.#sessions.destroy(oldest);
		}

		return false;
	}

	async #createSession(): Promise<void> {
		const {index, id} = this.#agent();
		const {token} = await this.#sessions.create(`load-user-${index + 1}`, {agentId: id, via: 'msdb load'});
		this.#tokens.push(token);
	}

	async #enqueueTask(): Promise<boolean> {
		const {id} = this.#agent();
		await this.#pools.query('primary', LOAD_QUERIES.enqueue, [randomInt(11), id, {source: 'msdb load', n: randomInt(1_000_000)}]);
		return false;
	}

	async #claimTask(): Promise<boolean> {
		const {id} = this.#agent();
		const {rows} = await this.#pools.query<{id: string}>('primary', LOAD_QUERIES.claim, [id]);
		const task = rows[0];
		if (!task) {
			return true;
		}

		await this.#pools.query('primary', LOAD_QUERIES.complete, [task.id, {ok: true, by: id}]);
		return false;
	}

	async #insertMessage(): Promise<boolean> {
		const {index, id} = this.#agent();
		this.#messageCount++;
		await this.#pools.query('primary', LOAD_QUERIES.message, [
			this.#conversations[index],
			id,
			`load message ${this.#messageCount}`,
			{source: 'msdb load'},
		]);
		return false;
	}

	async #writeState(): Promise<boolean> {
		const {id} = this.#agent();
		await this.#pools.query('primary', LOAD_QUERIES.state, [id, {step: randomInt(1000), at: new Date().toISOString()}]);
		// After the write, as the cache contract asks: a read that loads now sees the new version.
		await this.#cache.invalidate(agentCacheKey(id));
		return false;
	}
}
