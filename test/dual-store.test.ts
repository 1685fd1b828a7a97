/**
 * The dual-store coordinator and its relays on a real PostgreSQL (the repo's migrations) and a
 * private redis-server this file may kill: what each consistency level writes where and when it
 * acknowledges, reads (Redis, else PostgreSQL and a warm-up), versions that never go backwards,
 * refused stale writes, the relays (repair, events in version order, claims, re-warm), metrics.
 */
import {setTimeout as sleep} from 'node:timers/promises';
import {Registry} from 'prom-client';
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest';
import {AgentStateEventPublisher} from '../source/core/dual-store/agent-state-events.js';
import {agentStateEventsKey, agentStateKey, agentStateLogKey, agentStatePartition} from '../source/core/dual-store/agent-state-layout.js';
import {registerAgentStateMetrics} from '../source/core/dual-store/dual-store-metrics.js';
import {DualStoreCoordinator} from '../source/core/dual-store/dual-store-coordinator.js';
import {reconcileAgentState} from '../source/core/dual-store/reconcile-agent-state.js';
import {stateSetScript} from '../source/core/dual-store/state-scripts.js';
import {WRITE_BEHIND_GROUP, WriteBehindWriter} from '../source/core/dual-store/write-behind-writer.js';
import {MsdbError} from '../source/core/errors.js';
import {createAgents, drainRelays, openStores, postgresStates, relaysFor, type Stores} from './support/dual-store-fixtures.js';
import {applyAgentSchema} from './support/postgres-fixtures.js';
import {startRestartableRedis, type RestartableRedis} from './support/restartable-redis.js';
import {query} from './support/sql.js';
import {createTestDatabase, type TestDatabase} from './support/test-database.js';

let database: TestDatabase;
let redis: RestartableRedis;
let stores: Stores;
let envCounter = 0;

beforeAll(async () => {
	database = await createTestDatabase('dual_store');
	await applyAgentSchema(database);
	redis = await startRestartableRedis();
	stores = await openStores(database.url, redis.url, 300);
});

// The outbox belongs to the database, not to a key environment: rows an earlier test left would
// be relayed (and counted) by the next test's relay.
beforeEach(async () => {
	await query(database.url, 'DELETE FROM agents.state_outbox');
});

afterAll(async () => {
	await stores?.close();
	await redis?.stop();
	await database?.drop();
});

/** Each test its own key environment: its own streams and copies. */
function freshEnv(): string {
	envCounter++;
	return `ds${envCounter}`;
}

/** The Redis copy: `s` parsed (PostgreSQL's JSON text and a writer's differ in spacing), null for none. */
async function copyOf(env: string, agentId: string): Promise<{v: string | null; s: unknown; ttl: number}> {
	const key = agentStateKey(env, agentId);
	const [v = null, s = null] = await stores.redis.hmget(key, 'v', 's');
	return {v, s: s === null ? null : (JSON.parse(s) as unknown), ttl: await stores.redis.pttl(key)};
}

async function outboxRows(agentId: string): Promise<Array<{version: string; level: string}>> {
	return query(database.url, 'SELECT version::text AS version, level FROM agents.state_outbox WHERE agent_id = $1 ORDER BY id', [agentId]);
}

async function rejection(promise: Promise<unknown>): Promise<MsdbError> {
	const error = await promise.then(
		() => undefined,
		(thrown: unknown) => thrown,
	);
	expect(error).toBeInstanceOf(MsdbError);
	return error as MsdbError;
}

async function events(env: string): Promise<Array<{agentId: string; version: number; level: string}>> {
	const entries = await stores.redis.xrange(agentStateEventsKey(env), '-', '+');
	return entries.map(([, fields]) => {
		const map = new Map<string, string>();
		for (let index = 0; index < fields.length; index += 2) {
			map.set(fields[index] ?? '', fields[index + 1] ?? '');
		}

		return {agentId: map.get('agentId') ?? '', version: Number(map.get('version')), level: map.get('level') ?? ''};
	});
}

describe('each level', () => {
	it('strong: PostgreSQL row and outbox row in one commit, then the Redis copy; a read sees it from Redis', async () => {
		const env = freshEnv();
		const coordinator = new DualStoreCoordinator({pools: stores.pools, redis: stores.redis, env});
		const [agent = ''] = await createAgents(database.url, 1);
		const first = await coordinator.write(agent, {step: 1}, {level: 'strong'});
		const second = await coordinator.write(agent, {step: 2, plan: ['a', 'b']}, {level: 'strong'});
		expect([first.version, second.version]).toEqual([1, 2]);
		expect((await postgresStates(database.url, [agent])).get(agent)).toEqual({version: 2, state: {step: 2, plan: ['a', 'b']}});
		expect(await copyOf(env, agent)).toEqual({v: '2', s: {step: 2, plan: ['a', 'b']}, ttl: -1});
		expect(await outboxRows(agent)).toEqual([
			{version: '1', level: 'strong'},
			{version: '2', level: 'strong'},
		]);
		expect(await coordinator.read(agent)).toEqual({agentId: agent, state: {step: 2, plan: ['a', 'b']}, version: 2, source: 'redis'});

		// The relay: Redis already current (no repair), one event per version, in order, rows gone.
		const relays = relaysFor(stores, env, {events: new AgentStateEventPublisher({redis: stores.redis, env})});
		const outcome = await stores.pools.withClient('background', async client => relays.relay.drain(client));
		expect(outcome).toMatchObject({relayed: 2, repairs: 0});
		expect(await outboxRows(agent)).toEqual([]);
		expect(await events(env)).toEqual([
			{agentId: agent, version: 1, level: 'strong'},
			{agentId: agent, version: 2, level: 'strong'},
		]);
	});

	it('postgres-first: commit, then a tombstone; the next read loads PostgreSQL and warms Redis; the relay puts the version in Redis', async () => {
		const env = freshEnv();
		const coordinator = new DualStoreCoordinator({pools: stores.pools, redis: stores.redis, env, defaultLevel: 'postgres-first'});
		const [agent = '', other = ''] = await createAgents(database.url, 2);
		await coordinator.write(agent, {n: 1});
		const written = await coordinator.write(agent, {n: 2});
		expect(written).toMatchObject({version: 2, level: 'postgres-first'});
		const tombstone = await copyOf(env, agent);
		expect(tombstone).toMatchObject({v: '2', s: null});
		expect(tombstone.ttl).toBeGreaterThan(0);
		expect(await coordinator.read(agent)).toMatchObject({version: 2, state: {n: 2}, source: 'postgres'});
		expect(await coordinator.read(agent)).toMatchObject({version: 2, state: {n: 2}, source: 'redis'});

		// Not read: the relay replaces the tombstone with the committed copy.
		await coordinator.write(other, {n: 1});
		await drainRelays(stores, relaysFor(stores, env));
		expect(await copyOf(env, other)).toMatchObject({v: '1', s: {n: 1}, ttl: -1});
		expect(await outboxRows(other)).toEqual([]);
	});

	it('redis-first: acknowledged from Redis (version continues from PostgreSQL), persisted by the writer, announced after the commit', async () => {
		const env = freshEnv();
		const coordinator = new DualStoreCoordinator({pools: stores.pools, redis: stores.redis, env, defaultLevel: 'redis-first'});
		// A fixture agent: its state row is at version 3 and Redis has no copy.
		const [{agent_id: agent}] = (await query(database.url, 'SELECT agent_id::text FROM agents.state ORDER BY agent_id LIMIT 1')) as [{agent_id: string}];
		const before = (await postgresStates(database.url, [agent])).get(agent);
		const written = await coordinator.write(agent, {step: 'a'});
		expect(written.version).toBe((before?.version ?? 0) + 1);
		await coordinator.write(agent, {step: 'b'});
		expect(await coordinator.read(agent)).toMatchObject({version: written.version + 1, state: {step: 'b'}, source: 'redis'});
		expect((await postgresStates(database.url, [agent])).get(agent)?.version).toBe(before?.version);
		const log = agentStateLogKey(env, agentStatePartition(agent));
		expect(await stores.redis.xlen(log)).toBe(2);

		const relays = relaysFor(stores, env, {events: new AgentStateEventPublisher({redis: stores.redis, env})});
		const outcome = await stores.pools.withClient('background', async client => relays.writer.drain(client));
		expect(outcome).toMatchObject({persisted: 2, claimed: 0, orphaned: 0, rejected: []});
		expect((await postgresStates(database.url, [agent])).get(agent)).toEqual({version: written.version + 1, state: {step: 'b'}});
		// Acknowledged and deleted: the stream holds only what PostgreSQL does not have yet.
		expect(await stores.redis.xlen(log)).toBe(0);
		expect(await events(env)).toEqual([
			{agentId: agent, version: written.version, level: 'redis-first'},
			{agentId: agent, version: written.version + 1, level: 'redis-first'},
		]);
	});

	it('eventual: the copy gets its TTL only once persisted, and an expired copy is read from PostgreSQL', async () => {
		const env = freshEnv();
		const coordinator = new DualStoreCoordinator({pools: stores.pools, redis: stores.redis, env, defaultLevel: 'eventual', eventualTtlMs: 300});
		const [agent = ''] = await createAgents(database.url, 1);
		const written = await coordinator.write(agent, {mood: 'calm'});
		expect(written.version).toBe(1);
		// Not persisted yet: it must not expire.
		expect((await copyOf(env, agent)).ttl).toBe(-1);
		await drainRelays(stores, relaysFor(stores, env));
		const ttl = (await copyOf(env, agent)).ttl;
		expect(ttl).toBeGreaterThan(0);
		expect(ttl).toBeLessThanOrEqual(300);
		await expect.poll(async () => stores.redis.exists(agentStateKey(env, agent)), {timeout: 5000, interval: 50}).toBe(0);
		expect(await coordinator.read(agent)).toMatchObject({version: 1, state: {mood: 'calm'}, source: 'postgres'});
		// The next write continues from PostgreSQL's version, not from 0.
		expect((await coordinator.write(agent, {mood: 'busy'})).version).toBe(2);
	});
});

describe('versions never go backwards', () => {
	it('the Redis compare-and-set keeps a newer copy; the writer never overwrites a newer row with an older entry', async () => {
		const env = freshEnv();
		const coordinator = new DualStoreCoordinator({pools: stores.pools, redis: stores.redis, env});
		const [agent = ''] = await createAgents(database.url, 1);
		for (let step = 1; step <= 3; step++) {
			await coordinator.write(agent, {step});
		}

		const key = agentStateKey(env, agent);
		expect(await stateSetScript.run(stores.redis, [key], ['2', '{"step":2}', '0'])).toEqual([0, '3']);
		expect(await stateSetScript.run(stores.redis, [key], ['3', '{"other":true}', '0'])).toEqual([0, '3']);
		expect(await copyOf(env, agent)).toMatchObject({v: '3', s: {step: 3}});

		// A late entry (version 2) in the write-behind stream: acknowledged as stale, PostgreSQL keeps 3.
		const log = agentStateLogKey(env, agentStatePartition(agent));
		await stores.redis.xadd(log, '*', 'a', agent, 'v', '2', 's', '{"late":true}', 'l', 'redis-first', 't', new Date().toISOString(), 'x', '0');
		const seen: string[] = [];
		const writer = new WriteBehindWriter({redis: stores.redis, env, onPersisted: entries => seen.push(...entries.map(entry => `${entry.version}:${entry.outcome}`))});
		await stores.pools.withClient('background', async client => writer.drain(client));
		expect(seen).toEqual(['2:stale']);
		expect((await postgresStates(database.url, [agent])).get(agent)).toEqual({version: 3, state: {step: 3}});
	});

	it('concurrent strong writes and reads: every reader sees versions only rise, and at least what was acknowledged before its read', async () => {
		const env = freshEnv();
		const writers = new DualStoreCoordinator({pools: stores.pools, redis: stores.redis, env});
		// Another connection, as another process would read.
		const other = await openStores(database.url, redis.url);
		try {
			const readers = new DualStoreCoordinator({pools: other.pools, redis: other.redis, env});
			const [agent = ''] = await createAgents(database.url, 1);
			let acknowledged = 0;
			let done = false;
			const violations: string[] = [];
			const write = async () => {
				for (let index = 0; index < 50; index++) {
					const {version} = await writers.write(agent, {index});
					acknowledged = Math.max(acknowledged, version);
				}
			};

			const read = async () => {
				let last = 0;
				while (!done) {
					const floor = acknowledged;
					const current = await readers.read(agent);
					const version = current?.version ?? 0;
					if (version < last || version < floor) {
						violations.push(`read ${version} after ${last}, acknowledged ${floor}`);
					}

					last = version;
				}
			};

			const reading = Promise.all([read(), read()]);
			await Promise.all([write(), write(), write(), write()]);
			done = true;
			await reading;
			expect(violations).toEqual([]);
			expect(acknowledged).toBe(200);
		} finally {
			await other.close();
		}
	});

	it('a postgres-first tombstone keeps a read that loaded the row before the commit from putting it back', async () => {
		const env = freshEnv();
		const coordinator = new DualStoreCoordinator({pools: stores.pools, redis: stores.redis, env, defaultLevel: 'postgres-first'});
		const [agent = ''] = await createAgents(database.url, 1);
		await coordinator.write(agent, {n: 1});
		// A slow reader loaded version 1 …
		const loaded = (await postgresStates(database.url, [agent])).get(agent);
		// … a write commits version 2 and invalidates …
		await coordinator.write(agent, {n: 2});
		// … then the slow reader's warm-up arrives: refused.
		expect(await stateSetScript.run(stores.redis, [agentStateKey(env, agent)], [String(loaded?.version), JSON.stringify(loaded?.state), '0'])).toEqual([0, '2']);
		expect(await coordinator.read(agent)).toMatchObject({version: 2, state: {n: 2}});
	});
});

describe('stale and invalid writes are refused', () => {
	it('expectedVersion that is no longer current: E_VERSION_CONFLICT at every level, nothing written', async () => {
		const env = freshEnv();
		const coordinator = new DualStoreCoordinator({pools: stores.pools, redis: stores.redis, env});
		for (const level of ['strong', 'postgres-first', 'redis-first', 'eventual'] as const) {
			const [agent = ''] = await createAgents(database.url, 1);
			expect((await coordinator.write(agent, {v: 1}, {level, expectedVersion: 0})).version).toBe(1);
			expect((await coordinator.write(agent, {v: 2}, {level, expectedVersion: 1})).version).toBe(2);
			const error = await rejection(coordinator.write(agent, {v: 'stale'}, {level, expectedVersion: 1}));
			expect(error.code, level).toBe('E_VERSION_CONFLICT');
			expect(error.details).toMatchObject({expected: 1, actual: 2});
			expect((await coordinator.read(agent))?.state, level).toEqual({v: 2});
		}
	});

	it('refuses an unknown agent, a value PostgreSQL cannot store, an id that is not a uuid', async () => {
		const coordinator = new DualStoreCoordinator({pools: stores.pools, redis: stores.redis, env: freshEnv()});
		const unknown = '00000000-0000-4000-8000-000000000000';
		expect((await rejection(coordinator.write(unknown, {}, {level: 'strong'}))).code).toBe('E_BAD_ARGUMENT');
		expect((await rejection(coordinator.write(unknown, {}, {level: 'redis-first'}))).code).toBe('E_BAD_ARGUMENT');
		const [agent = ''] = await createAgents(database.url, 1);
		expect((await rejection(coordinator.write(agent, {text: 'a\u0000b'}))).code).toBe('E_BAD_ARGUMENT');
		expect((await rejection(coordinator.write(agent, undefined))).code).toBe('E_BAD_ARGUMENT');
		expect((await rejection(coordinator.write('not-a-uuid', {}))).code).toBe('E_BAD_ARGUMENT');
		expect(await postgresStates(database.url, [agent])).toEqual(new Map());
	});
});

describe('reads and the relays around a Redis outage', () => {
	it('Redis down: reads come from PostgreSQL, strong and redis-first refuse with nothing written, postgres-first acknowledges; back up: the relay fills Redis', async () => {
		const env = freshEnv();
		const coordinator = new DualStoreCoordinator({pools: stores.pools, redis: stores.redis, env});
		const [agent = '', other = ''] = await createAgents(database.url, 2);
		await coordinator.write(agent, {n: 1});
		await redis.kill();
		await expect.poll(() => stores.redis.status, {timeout: 5000, interval: 10}).not.toBe('ready');
		expect(await coordinator.read(agent)).toMatchObject({version: 1, source: 'postgres'});
		const strong = await rejection(coordinator.write(agent, {n: 2}, {level: 'strong'}));
		expect(strong).toMatchObject({code: 'E_REDIS_UNAVAILABLE', details: {applied: false}});
		expect((await rejection(coordinator.write(agent, {n: 2}, {level: 'redis-first'}))).code).toBe('E_REDIS_UNAVAILABLE');
		expect((await postgresStates(database.url, [agent])).get(agent)?.version).toBe(1);
		expect(await coordinator.write(other, {n: 1}, {level: 'postgres-first'})).toMatchObject({version: 1});
		expect(coordinator.stats()).toMatchObject({refused: 2, invalidationsDeferred: 1});

		await redis.restart();
		await expect.poll(async () => stores.redis.ping().catch(() => 'down'), {timeout: 10_000, interval: 50}).toBe('PONG');
		// A missing copy: read from PostgreSQL and warmed.
		expect(await coordinator.read(agent)).toMatchObject({version: 1, source: 'postgres'});
		expect(await coordinator.read(agent)).toMatchObject({version: 1, source: 'redis'});
		await drainRelays(stores, relaysFor(stores, env));
		expect(await copyOf(env, other)).toMatchObject({v: '1', s: {n: 1}});
		// The restarted Redis lost everything; the relay put back every row.
		const reconcile = await reconcileAgentState({database: stores.pools.pool('primary'), redis: stores.redis, env});
		expect(reconcile.counts).toEqual({'missing-in-redis': 0, 'version-mismatch': 0, 'content-mismatch': 0, 'redis-ahead': 0, 'extra-in-redis': 0});
	});

	it('the outbox relay repairs a Redis copy older than PostgreSQL (a write-through that did not land)', async () => {
		const env = freshEnv();
		const coordinator = new DualStoreCoordinator({pools: stores.pools, redis: stores.redis, env});
		const [agent = ''] = await createAgents(database.url, 1);
		await coordinator.write(agent, {n: 1});
		await coordinator.write(agent, {n: 2});
		// What a Redis that came back from an old snapshot would hold, seen by the relay well after
		// the write-through's deadline (a younger row may just have its write-through on the way).
		await stores.redis.hset(agentStateKey(env, agent), 'v', '1', 's', '{"n":1}');
		await query(database.url, "UPDATE agents.state_outbox SET created_at = created_at - interval '1 minute' WHERE agent_id = $1", [agent]);
		const outcome = await stores.pools.withClient('background', async client => relaysFor(stores, env).relay.drain(client));
		expect(outcome).toMatchObject({relayed: 2, repairs: 1});
		expect(await copyOf(env, agent)).toMatchObject({v: '2', s: {n: 2}});
	});

	it("the write-behind writer waits for another consumer's pending entries until they are idle, then claims them", async () => {
		const env = freshEnv();
		const coordinator = new DualStoreCoordinator({pools: stores.pools, redis: stores.redis, env, defaultLevel: 'redis-first'});
		const [agent = ''] = await createAgents(database.url, 1);
		await coordinator.write(agent, {n: 1});
		await coordinator.write(agent, {n: 2});
		// A writer that read both entries and died before its commit.
		const log = agentStateLogKey(env, agentStatePartition(agent));
		await stores.redis.xgroup('CREATE', log, WRITE_BEHIND_GROUP, '0');
		await stores.redis.xreadgroup('GROUP', WRITE_BEHIND_GROUP, 'dead-writer', 'COUNT', 10, 'STREAMS', log, '>');
		// A write after it died: must not reach PostgreSQL before the two older ones.
		await coordinator.write(agent, {n: 3});

		const patient = new WriteBehindWriter({redis: stores.redis, env, claimIdleMs: 60_000});
		const waited = await stores.pools.withClient('background', async client => patient.drain(client));
		expect(waited).toMatchObject({persisted: 0, waitingFor: ['dead-writer']});
		expect(await postgresStates(database.url, [agent])).toEqual(new Map());

		const seen: string[] = [];
		const claimer = new WriteBehindWriter({redis: stores.redis, env, claimIdleMs: 0, onPersisted: entries => seen.push(entries.map(entry => entry.version).join(','))});
		const claimed = await stores.pools.withClient('background', async client => claimer.drain(client));
		expect(claimed).toMatchObject({persisted: 3, claimed: 2, waitingFor: []});
		expect(seen).toEqual(['1,2', '3']);
		expect((await postgresStates(database.url, [agent])).get(agent)).toEqual({version: 3, state: {n: 3}});
		expect(await stores.redis.xlen(log)).toBe(0);
	});

	it('entries of an agent deleted meanwhile are dropped with its Redis copy', async () => {
		const env = freshEnv();
		const coordinator = new DualStoreCoordinator({pools: stores.pools, redis: stores.redis, env, defaultLevel: 'redis-first'});
		const [agent = '', kept = ''] = await createAgents(database.url, 2);
		await coordinator.write(agent, {n: 1});
		await coordinator.write(kept, {n: 1});
		await query(database.url, 'DELETE FROM agents.agents WHERE id = $1', [agent]);
		const outcome = await stores.pools.withClient('background', async client => relaysFor(stores, env).writer.drain(client));
		expect(outcome).toMatchObject({persisted: 2, orphaned: 1});
		expect(await stores.redis.exists(agentStateKey(env, agent))).toBe(0);
		expect((await postgresStates(database.url, [kept])).get(kept)?.version).toBe(1);
	});
});

describe('metrics', () => {
	it('exports the queue depths and lags of both relays, and their counts', async () => {
		const env = freshEnv();
		const coordinator = new DualStoreCoordinator({pools: stores.pools, redis: stores.redis, env});
		const [agent = ''] = await createAgents(database.url, 1);
		// Rows other tests left are relayed first, so this test sees only its own.
		await drainRelays(stores, relaysFor(stores, env));
		await coordinator.write(agent, {n: 1}, {level: 'strong'});
		await coordinator.write(agent, {n: 2}, {level: 'redis-first'});
		await sleep(20);
		const registry = new Registry();
		const source = registerAgentStateMetrics({database: stores.pools.pool('primary'), redis: stores.redis, env}, registry, {maxAgeMs: 0});
		const value = async (name: string) => (await registry.getSingleMetricAsString(name)).split('\n').find(line => line.startsWith(`${name} `))?.split(' ')[1];
		expect(await value('msdb_agent_state_outbox_rows')).toBe('1');
		expect(await value('msdb_agent_state_write_behind_entries')).toBe('1');
		expect(Number(await value('msdb_agent_state_write_behind_lag_seconds'))).toBeGreaterThan(0);
		expect(Number(await value('msdb_agent_state_outbox_lag_seconds'))).toBeGreaterThan(0);
		await drainRelays(stores, relaysFor(stores, env));
		expect(await value('msdb_agent_state_outbox_rows')).toBe('0');
		expect(await value('msdb_agent_state_write_behind_entries')).toBe('0');
		expect((await source.read()).up).toBe(true);
	});
});
