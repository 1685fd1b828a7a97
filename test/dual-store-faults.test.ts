/**
 * The dual store under faults, on real services (the acceptance of the dual-store issue):
 *
 * 1. For each consistency level: 8 concurrent writers make 10,000 writes (MSDB_TEST_DUAL_STORE_WRITES
 *    scales it) to 200 agents while `msdb worker`'s relays run (runWorker, in process); at a random
 *    moment the redis-server is SIGKILLed (it has no persistence: it comes back empty) and
 *    restarted. After the relays drain, `reconcileAgentState` finds no difference, no row's version
 *    ever went down (a trigger records any update that lowered it), events are in version order
 *    per agent, and PostgreSQL holds, for every agent:
 *    - strong, postgres-first: the last acknowledged write (or a later write that was committed
 *      but not acknowledged: strong's E_STATE_UNACKNOWLEDGED);
 *    - redis-first, eventual: the last acknowledged write, except for the README's loss window:
 *      writes acknowledged before the crash whose write-behind entries were still in Redis. The
 *      test checks both halves: every lost write was acknowledged before the crash, and there are
 *      no more of them than entries in the write-behind streams at the kill.
 *    Strong also checks read-after-acknowledgement on every write: the writer reads right after
 *    the acknowledgement and must see that version or a newer one, through the outage too.
 * 2. The built `msdb worker` is `kill -9`ed while its write-behind writer is in the middle of a
 *    batch (held there by a row lock the test takes), more writes follow, and a new worker drains
 *    everything: it claims the dead writer's entries, and no older version overwrites a newer one.
 */
import {setTimeout as sleep} from 'node:timers/promises';
import {execa} from 'execa';
import pg from 'pg';
import {afterEach, describe, expect, it} from 'vitest';
import {agentStateEventsKey, agentStateLogKey, AGENT_STATE_PARTITIONS} from '../source/core/dual-store/agent-state-layout.js';
import type {ConsistencyLevel} from '../source/core/dual-store/consistency-level.js';
import {DualStoreCoordinator} from '../source/core/dual-store/dual-store-coordinator.js';
import {readAgentStateBacklog} from '../source/core/dual-store/dual-store-metrics.js';
import {reconcileAgentState} from '../source/core/dual-store/reconcile-agent-state.js';
import {MsdbError} from '../source/core/errors.js';
import {resolvePoolsConfig} from '../source/core/pools/pool-config.js';
import {resolveRedisConfig} from '../source/core/redis/redis-config.js';
import {runWorker, type WorkerSummary} from '../source/core/worker/run-worker.js';
import {createAgents, openStores, type Stores} from './support/dual-store-fixtures.js';
import {applyAgentSchema} from './support/postgres-fixtures.js';
import {startRestartableRedis, type RestartableRedis} from './support/restartable-redis.js';
import {CLI_PATH} from './support/run-msdb.js';
import {query} from './support/sql.js';
import {createTestDatabase, type TestDatabase} from './support/test-database.js';

const WRITES = Number(process.env.MSDB_TEST_DUAL_STORE_WRITES ?? 10_000);
const WRITERS = 8;
const AGENTS = 200;

let cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
	for (const step of cleanup.reverse()) {
		await step().catch(() => {});
	}

	cleanup = [];
});

type Environment = {database: TestDatabase; redis: RestartableRedis; stores: Stores; env: string};

async function setUp(label: string): Promise<Environment> {
	const database = await createTestDatabase(label);
	cleanup.push(async () => database.drop());
	await applyAgentSchema(database);
	// Any update that lowers a version (or keeps it) is recorded: "no older version overwrites a newer one".
	await query(
		database.url,
		`CREATE TABLE public.version_regressions (agent_id uuid, old_version bigint, new_version bigint);
		CREATE FUNCTION public.record_version_regression() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO public.version_regressions VALUES (OLD.agent_id, OLD.version, NEW.version);
			RETURN NEW;
		END $$;
		CREATE TRIGGER state_version_regression BEFORE UPDATE ON agents.state
			FOR EACH ROW WHEN (NEW.version <= OLD.version) EXECUTE FUNCTION public.record_version_regression();
		-- Every version a row took, with the write it came from: which acknowledged writes PostgreSQL got.
		CREATE TABLE public.state_log (agent_id uuid, version bigint, id text);
		CREATE FUNCTION public.log_state() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO public.state_log VALUES (NEW.agent_id, NEW.version, NEW.state->>'id');
			RETURN NEW;
		END $$;
		CREATE TRIGGER state_log AFTER INSERT OR UPDATE ON agents.state FOR EACH ROW EXECUTE FUNCTION public.log_state();`,
	);
	const redis = await startRestartableRedis();
	cleanup.push(async () => redis.stop());
	const stores = await openStores(database.url, redis.url, 500);
	cleanup.push(async () => stores.close());
	return {database, redis, stores, env: `faults-${label}`};
}

/** One write attempt and what came of it. */
type Attempt = {
	agentId: string;
	/** Unique per attempt: identifies the write in PostgreSQL's state. */
	id: string;
	outcome: 'acknowledged' | 'committed' | 'in-doubt' | 'refused';
	version?: number;
	/**
	 * When it was sent: `pre` while the first server was up (if Redis took it, that server did),
	 * `kill` while it was being killed (either server), `post` once it was dead (only the
	 * restarted server can have taken it).
	 */
	phase: 'pre' | 'kill' | 'post';
};

type Chaos = {killedAtAttempt: number; backlogAtKill: number; acksDuringKill: number; outageMs: number};

/**
 * WRITES attempts by WRITERS writers on random agents, with a kill and restart of Redis when the
 * attempt counter reaches a random point between 20 % and 60 %. A refused or failed write backs
 * off 5 ms (a client would), so the outage costs attempts, not the whole run.
 */
async function writeThroughAnOutage(context: Environment, coordinator: DualStoreCoordinator, agents: readonly string[], level: ConsistencyLevel): Promise<{attempts: Attempt[]; chaos: Chaos; readViolations: string[]}> {
	const attempts: Attempt[] = [];
	const readViolations: string[] = [];
	const killAt = Math.floor(WRITES * (0.2 + Math.random() * 0.4));
	const outageMs = 200 + Math.floor(Math.random() * 400);
	let issued = 0;
	let ackCount = 0;
	let phase: Attempt['phase'] = 'pre';
	const chaos: Chaos = {killedAtAttempt: killAt, backlogAtKill: 0, acksDuringKill: 0, outageMs};
	let outage: Promise<void> | undefined;
	const startOutage = async () => {
		// The write-behind backlog just before the crash, plus every write the killed server
		// acknowledged after it was read: the most a redis-first crash may lose.
		const acksBefore = ackCount;
		chaos.backlogAtKill = await writeBehindBacklog(context.stores, context.env);
		phase = 'kill';
		await context.redis.kill();
		phase = 'post';
		chaos.acksDuringKill = ackCount - acksBefore;
		await sleep(outageMs);
		await context.redis.restart();
	};

	const writer = async (writerIndex: number) => {
		for (;;) {
			const index = issued++;
			if (index >= WRITES) {
				return;
			}

			if (index === killAt) {
				outage = startOutage();
			}

			const agentId = agents[Math.floor(Math.random() * agents.length)] ?? '';
			const id = `${writerIndex}:${index}`;
			const sentIn = phase;
			try {
				const {version} = await coordinator.write(agentId, {id, writer: writerIndex, payload: `write ${index}`}, {level});
				ackCount++;
				attempts.push({agentId, id, outcome: 'acknowledged', version, phase: sentIn});
				if (level === 'strong') {
					const read = await coordinator.read(agentId);
					if ((read?.version ?? 0) < version) {
						readViolations.push(`${agentId}: acknowledged ${version}, then read ${read?.version ?? 'nothing'} from ${read?.source ?? '-'}`);
					}
				}
			} catch (error) {
				if (!(error instanceof MsdbError)) {
					throw error;
				}

				if (error.code === 'E_STATE_UNACKNOWLEDGED') {
					attempts.push({agentId, id, outcome: 'committed', version: Number(error.details.version), phase: sentIn});
				} else if (error.code === 'E_REDIS_UNAVAILABLE') {
					attempts.push({agentId, id, outcome: error.details.applied === false ? 'refused' : 'in-doubt', phase: sentIn});
				} else {
					throw error;
				}

				await sleep(5);
			}
		}
	};

	await Promise.all(Array.from({length: WRITERS}, async (_, index) => writer(index)));
	await outage;
	return {attempts, chaos, readViolations};
}

async function writeBehindBacklog(stores: Stores, env: string): Promise<number> {
	const lengths = await Promise.all(Array.from({length: AGENT_STATE_PARTITIONS}, async (_, partition) => stores.redis.xlen(agentStateLogKey(env, partition))));
	return lengths.reduce((sum, length) => sum + length, 0);
}

/** Waits until the outbox and the write-behind streams are empty (the worker's relays drained them). */
async function waitForDrain(context: Environment): Promise<void> {
	await expect
		.poll(
			async () => {
				const backlog = await readAgentStateBacklog({database: context.stores.pools.pool('primary'), redis: context.stores.redis, env: context.env}).catch(() => undefined);
				return backlog && backlog.outbox.rows === 0 && backlog.writeBehind.entries === 0 ? 'drained' : JSON.stringify(backlog?.outbox ?? 'no answer') + JSON.stringify(backlog?.writeBehind ?? '');
			},
			{timeout: 90_000, interval: 200},
		)
		.toBe('drained');
}

async function finalStates(url: string): Promise<Map<string, {version: number; id: string}>> {
	const rows = await query<{agent_id: string; version: string; id: string}>(url, "SELECT agent_id::text AS agent_id, version::text AS version, state->>'id' AS id FROM agents.state WHERE state ? 'id'");
	return new Map(rows.map(row => [row.agent_id, {version: Number(row.version), id: row.id}]));
}

/**
 * Per agent, events in stream order announce versions in increasing order. Delivery is at least
 * once (a relay that dies or fails between publishing and deleting its rows publishes them again),
 * so a version already announced may come again; a version never seen that is lower than one
 * already announced would be a reorder.
 */
async function eventOrderViolations(stores: Stores, env: string): Promise<string[]> {
	const entries = await stores.redis.xrange(agentStateEventsKey(env), '-', '+');
	const seen = new Map<string, {highest: number; versions: Set<number>}>();
	const violations: string[] = [];
	for (const [, fields] of entries) {
		const agentId = fields[fields.indexOf('agentId') + 1] ?? '';
		const version = Number(fields[fields.indexOf('version') + 1]);
		const agent = seen.get(agentId) ?? {highest: 0, versions: new Set<number>()};
		if (version < agent.highest && !agent.versions.has(version)) {
			violations.push(`${agentId}: event ${version} first seen after ${agent.highest}`);
		}

		agent.highest = Math.max(agent.highest, version);
		agent.versions.add(version);
		seen.set(agentId, agent);
	}

	return violations;
}

function startWorker(context: Environment): {stop(): Promise<WorkerSummary>} {
	const controller = new AbortController();
	const summary = runWorker(
		{
			pools: resolvePoolsConfig({databaseUrl: context.database.url}, {}),
			redis: resolveRedisConfig({redisUrl: context.redis.url}, {}),
			env: {MSDB_ENV: context.env},
			heartbeatIntervalMs: 0,
			writeBehindClaimIdleMs: 1000,
		},
		{signal: controller.signal},
	);
	return {
		async stop() {
			controller.abort();
			return summary;
		},
	};
}

describe.each(['strong', 'postgres-first', 'redis-first', 'eventual'] as const)('%s: 8 writers, a Redis kill and restart at a random moment', level => {
	it(
		`PostgreSQL holds the last acknowledged version of every agent${level === 'redis-first' || level === 'eventual' ? ' outside the loss window' : ''}, and reconcile finds no difference`,
		async () => {
			const context = await setUp(level.replace('-', '_'));
			const agents = await createAgents(context.database.url, AGENTS, level);
			const coordinator = new DualStoreCoordinator({pools: context.stores.pools, redis: context.stores.redis, env: context.env, eventualTtlMs: 3_600_000});
			const worker = startWorker(context);
			let summary: WorkerSummary | undefined;
			try {
				const {attempts, chaos, readViolations} = await writeThroughAnOutage(context, coordinator, agents, level);
				await expect.poll(async () => context.stores.redis.ping().catch(() => 'down'), {timeout: 10_000, interval: 50}).toBe('PONG');
				await waitForDrain(context);
				summary = await worker.stop();

				const counts = {acknowledged: 0, committed: 0, inDoubt: 0, refused: 0};
				for (const attempt of attempts) {
					counts[attempt.outcome === 'in-doubt' ? 'inDoubt' : attempt.outcome]++;
				}

				expect(attempts).toHaveLength(WRITES);
				// The outage really happened, and writes went on after it.
				expect(attempts.some(attempt => attempt.outcome === 'acknowledged' && attempt.phase === 'post'), 'writes acknowledged after the restart').toBe(true);
				expect(counts.acknowledged).toBeGreaterThan(WRITES / 2);

				const final = await finalStates(context.database.url);
				const byAgent = new Map<string, Attempt[]>();
				for (const attempt of attempts) {
					const list = byAgent.get(attempt.agentId) ?? [];
					list.push(attempt);
					byAgent.set(attempt.agentId, list);
				}

				const problems: string[] = [];
				let lost = 0;
				for (const [agentId, list] of byAgent) {
					// The last write is the highest version (the stores hand versions out in commit order;
					// acknowledgements of concurrent writers may arrive in another order), and after a
					// Redis loss, versions start again from PostgreSQL's: writes to the new server come last.
					const acknowledged = list
						.filter(attempt => attempt.outcome === 'acknowledged')
						.sort((a, b) => Number(a.phase === 'post') - Number(b.phase === 'post') || (a.version ?? 0) - (b.version ?? 0));
					const held = final.get(agentId);
					const last = acknowledged.at(-1);
					if (!last) {
						continue;
					}

					if (!held) {
						problems.push(`${agentId}: no row, last acknowledged ${last.version}`);
						continue;
					}

					const heldWrite = list.find(attempt => attempt.id === held.id);
					if (!heldWrite || heldWrite.outcome === 'refused') {
						problems.push(`${agentId}: PostgreSQL holds ${held.id}, which was not written`);
						continue;
					}

					if (heldWrite === last) {
						if (held.version !== last.version) {
							problems.push(`${agentId}: holds the last acknowledged write at version ${held.version}, acknowledged as ${last.version}`);
						}
					} else if (level === 'strong' || level === 'postgres-first') {
						// Only a later write that was committed but not acknowledged may stand in for the last acknowledged one.
						if (heldWrite.outcome !== 'committed' || (heldWrite.version ?? 0) <= (last.version ?? 0) || held.version !== heldWrite.version) {
							problems.push(`${agentId}: holds ${held.id} (version ${held.version}, ${heldWrite.outcome}), not the last acknowledged ${last.id} (version ${last.version})`);
						}
					} else if (last.phase === 'post') {
						// The loss window covers only writes the killed server acknowledged.
						problems.push(`${agentId}: holds ${held.id} (version ${held.version}), but ${last.id} (version ${last.version}) was acknowledged after the restart`);
					}
				}

				// Which acknowledged writes reached PostgreSQL: for write-through levels each one is a
				// row version of its own; write-behind batches keep an agent's highest version only, so
				// there a write counts as persisted when the row reached its version in the same Redis
				// lifetime (versions restart from PostgreSQL's after a loss).
				const log = await query<{agent_id: string; version: string; id: string}>(context.database.url, 'SELECT agent_id::text AS agent_id, version::text AS version, id FROM public.state_log');
				const reached = new Map<string, {before: number; after: number}>();
				const attemptById = new Map(attempts.map(attempt => [attempt.id, attempt]));
				const logged = new Set<string>();
				for (const row of log) {
					logged.add(`${row.id}@${row.version}`);
					const attempt = attemptById.get(row.id);
					if (!attempt) {
						continue;
					}

					const entry = reached.get(row.agent_id) ?? {before: 0, after: 0};
					const side = attempt.phase === 'post' ? 'after' : 'before';
					entry[side] = Math.max(entry[side], Number(row.version));
					reached.set(row.agent_id, entry);
				}

				const lostWrites: Attempt[] = [];
				for (const attempt of attempts) {
					if (attempt.outcome !== 'acknowledged') {
						continue;
					}

					const persisted =
						level === 'strong' || level === 'postgres-first'
							? logged.has(`${attempt.id}@${attempt.version}`)
							: (attempt.version ?? 0) <= (reached.get(attempt.agentId)?.[attempt.phase === 'post' ? 'after' : 'before'] ?? 0);
					if (!persisted) {
						lostWrites.push(attempt);
					}
				}

				lost = lostWrites.length;
				const lostAfterRestart = lostWrites.filter(attempt => attempt.phase === 'post').map(attempt => `${attempt.id}@${attempt.version}`);
				expect(lostAfterRestart, 'acknowledged by the restarted server and not persisted').toEqual([]);

				const regressions = await query(context.database.url, 'SELECT * FROM public.version_regressions');
				const reconcile = await reconcileAgentState({database: context.stores.pools.pool('primary'), redis: context.stores.redis, env: context.env});
				const report = {level, ...counts, lost, ...chaos, summary: {outbox: summary.duties['state-outbox'], writeBehind: summary.duties['state-write-behind']}};
				console.info(`dual-store faults: ${JSON.stringify(report)}`);
				expect(problems).toEqual([]);
				expect(readViolations).toEqual([]);
				expect(regressions).toEqual([]);
				expect(await eventOrderViolations(context.stores, context.env)).toEqual([]);
				expect(reconcile.counts).toEqual({'missing-in-redis': 0, 'version-mismatch': 0, 'content-mismatch': 0, 'redis-ahead': 0, 'extra-in-redis': 0});
				if (level === 'redis-first' || level === 'eventual') {
					// The README's window: only what the writer had not taken out of Redis when it died.
					expect(lost).toBeLessThanOrEqual(chaos.backlogAtKill + chaos.acksDuringKill);
				} else {
					expect(lost).toBe(0);
				}
			} finally {
				summary ??= await worker.stop();
			}
		},
		240_000,
	);
});

describe('msdb worker killed with -9 in the middle of a drain', () => {
	it('a restarted worker claims the dead writer’s entries, drains everything, and no older version overwrites a newer one', async () => {
		const context = await setUp('worker_kill');
		const coordinator = new DualStoreCoordinator({pools: context.stores.pools, redis: context.stores.redis, env: context.env});
		const writeBehindAgents = await createAgents(context.database.url, 100, 'wb');
		const outboxAgents = await createAgents(context.database.url, 50, 'ob');
		const last = new Map<string, {version: number; id: string}>();
		const writeMany = async (agents: readonly string[], level: ConsistencyLevel, count: number, tag: string) => {
			let next = 0;
			await Promise.all(
				Array.from({length: WRITERS}, async () => {
					while (next < count) {
						const index = next++;
						const agentId = agents[index % agents.length] ?? '';
						const id = `${tag}:${index}`;
						const {version} = await coordinator.write(agentId, {id}, {level});
						if (version > (last.get(agentId)?.version ?? 0)) {
							last.set(agentId, {version, id});
						}
					}
				}),
			);
		};

		// A backlog before any worker runs: write-behind entries in every partition, outbox rows.
		await writeMany(writeBehindAgents, 'redis-first', 5000, 'before');
		await writeMany(outboxAgents, 'strong', 1000, 'before');
		// The first worker's write-behind batch will wait on this row lock, with its entries read and
		// not acknowledged: a writer killed between its read and its ack.
		const lockHolder = new pg.Client({connectionString: context.database.url});
		await lockHolder.connect();
		cleanup.push(async () => lockHolder.end());
		const lockedAgent = writeBehindAgents[0] ?? '';
		await lockHolder.query("INSERT INTO agents.state (agent_id, state, version) VALUES ($1, '{}', 0) ON CONFLICT DO NOTHING", [lockedAgent]);
		await lockHolder.query('BEGIN');
		await lockHolder.query('SELECT 1 FROM agents.state WHERE agent_id = $1 FOR UPDATE', [lockedAgent]);

		const workerArgs = [CLI_PATH, 'worker', '--json', '--heartbeat-interval', '0', '--state-relay-interval', '100ms', '--write-behind-claim-idle', '1s', '--shutdown-grace', '5s'];
		const workerEnv = {DATABASE_URL: context.database.url, REDIS_URL: context.redis.url, MSDB_ENV: context.env, PATH: process.env.PATH ?? ''};
		const first = execa(process.execPath, workerArgs, {env: workerEnv, extendEnv: false, reject: false, stdin: 'ignore'});
		cleanup.push(async () => {
			first.kill('SIGKILL');
		});
		// Mid-drain: the writer's upsert is waiting for the row lock.
		const blocked = async () => {
			const [row] = await query(context.database.url, "SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO agents.state AS current%'");
			return row?.waiting === 1;
		};

		const deadline = Date.now() + 30_000;
		while (!(await blocked())) {
			if (Date.now() > deadline || first.exitCode !== null) {
				first.kill('SIGKILL');
				const {stderr} = await first;
				throw new Error(`the first worker never waited for the row lock; its stderr:\n${stderr}`);
			}

			await sleep(50);
		}

		const pendingAtKill = await pendingEntries(context);
		first.kill('SIGKILL');
		const killed = await first;
		expect(killed.signal).toBe('SIGKILL');
		expect(pendingAtKill).toBeGreaterThan(0);

		// Newer versions of the same agents while no worker runs.
		await writeMany(writeBehindAgents, 'redis-first', 1000, 'after');
		await writeMany(outboxAgents, 'strong', 200, 'after');
		// The dead worker's statement now runs (its backend outlived the process), then its session ends.
		await lockHolder.query('COMMIT');

		const second = execa(process.execPath, workerArgs, {env: workerEnv, extendEnv: false, reject: false, stdin: 'ignore'});
		cleanup.push(async () => {
			second.kill('SIGKILL');
		});
		await waitForDrain(context);
		second.kill('SIGTERM');
		const stopped = await second;
		expect(stopped.exitCode, stopped.stderr).toBe(0);
		const summary = JSON.parse(stopped.stdout) as WorkerSummary;
		console.info(`dual-store worker kill: ${JSON.stringify({pendingAtKill, outbox: summary.duties['state-outbox'], writeBehind: summary.duties['state-write-behind']})}`);
		expect(summary.duties['state-write-behind']?.entriesClaimed).toBeGreaterThan(0);
		expect(stopped.stderr).toContain('claimed');

		expect(await query(context.database.url, 'SELECT * FROM public.version_regressions')).toEqual([]);
		const final = await finalStates(context.database.url);
		const wrong = [...last].filter(([agentId, expected]) => final.get(agentId)?.version !== expected.version || final.get(agentId)?.id !== expected.id);
		expect(wrong).toEqual([]);
		expect(await eventOrderViolations(context.stores, context.env)).toEqual([]);
		const reconcile = await reconcileAgentState({database: context.stores.pools.pool('primary'), redis: context.stores.redis, env: context.env});
		expect(reconcile.counts).toEqual({'missing-in-redis': 0, 'version-mismatch': 0, 'content-mismatch': 0, 'redis-ahead': 0, 'extra-in-redis': 0});
	}, 240_000);
});

async function pendingEntries(context: Environment): Promise<number> {
	const backlog = await readAgentStateBacklog({database: context.stores.pools.pool('primary'), redis: context.stores.redis, env: context.env});
	return backlog.writeBehind.pending;
}
