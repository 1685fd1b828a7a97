/**
 * `msdb reconcile agent-state` as scripts run it (the built CLI, its own process) against a real
 * PostgreSQL with the framework schema and a real standalone Redis and Redis Cluster. The Redis
 * copies are written directly with the layout helpers, then corrupted on purpose. Run
 * `npm run build` first (`npm test` does).
 */
import {randomUUID} from 'node:crypto';
import {tmpdir} from 'node:os';
import {afterAll, beforeAll, expect, it} from 'vitest';
import {agentStateKey, STATE_FIELDS, stateContentHash} from '../source/core/dual-store/agent-state-layout.js';
import type {RedisClient} from '../source/core/redis/redis-client.js';
import {applyAgentSchema} from './support/postgres-fixtures.js';
import {describeForEachRedisTarget, type RedisTarget} from './support/redis-targets.js';
import {runMsdb, type MsdbRun} from './support/run-msdb.js';
import {query} from './support/sql.js';
import {createTestDatabase, type TestDatabase} from './support/test-database.js';

const ENV = 'reconciletest';
const AGENTS = 1000;

type Row = {agent_id: string; version: string; state: Record<string, unknown>};

let database: TestDatabase;
let rows: Row[];

beforeAll(async () => {
	database = await createTestDatabase('reconcile');
	// The schema plus 50 agents with state; 950 more with varied, nested states and versions.
	await applyAgentSchema(database);
	await query(
		database.url,
		`WITH created AS (
			INSERT INTO agents.agents (name, kind, status)
			SELECT 'reconcile-' || i, (enum_range(NULL::agents.agent_kind))[1 + i % 6], 'idle' FROM generate_series(1, $1::int) i
			RETURNING id, name
		)
		INSERT INTO agents.state (agent_id, state, version)
		SELECT id, jsonb_build_object('step', n, 'plan', jsonb_build_array('a', n, jsonb_build_object('z', 1, 'a', 'x')), 'note', 'é ' || n), 1 + n % 9
		FROM (SELECT id, substring(name FROM 11)::int AS n FROM created) c`,
		[AGENTS - 50],
	);
	rows = await query<Row>(database.url, 'SELECT agent_id::text AS agent_id, version::text AS version, state FROM agents.state ORDER BY agent_id');
	expect(rows).toHaveLength(AGENTS);
}, 120_000);

afterAll(async () => {
	await database?.drop();
});

/** The copy the coordinator would write, with the keys in another order than PostgreSQL returns them. */
function reordered(value: unknown): unknown {
	if (Array.isArray(value)) {
		return value.map(item => reordered(item));
	}

	if (value !== null && typeof value === 'object') {
		return Object.fromEntries(
			Object.entries(value as Record<string, unknown>)
				.reverse()
				.map(([key, item]) => [key, reordered(item)]),
		);
	}

	return value;
}

async function writeCopies(client: RedisClient, copies: Row[]): Promise<void> {
	await Promise.all(copies.map(async row => client.hset(agentStateKey(ENV, row.agent_id), STATE_FIELDS.version, row.version, STATE_FIELDS.state, JSON.stringify(reordered(row.state)))));
}

describeForEachRedisTarget('msdb reconcile agent-state', (target: () => RedisTarget) => {
	let client: RedisClient;

	const msdb = async (...args: string[]): Promise<MsdbRun> =>
		runMsdb(['reconcile', 'agent-state', '--batch-size', '64', ...args], {
			cwd: tmpdir(),
			env: {DATABASE_URL: database.url, REDIS_URL: target().url, MSDB_ENV: ENV},
		});

	const kindsOf = (run: MsdbRun): Record<string, string> =>
		Object.fromEntries((run.json.differences as Array<{agentId: string; kind: string}>).map(({agentId, kind}) => [agentId, kind]));

	beforeAll(async () => {
		client = target().connect();
		await target().flush();
		await writeCopies(client, rows);
		// Another environment's copies on the same server are not this reconciliation's business.
		await client.hset(agentStateKey('elsewhere', randomUUID()), STATE_FIELDS.version, '1', STATE_FIELDS.state, '{}');
	});
	afterAll(async () => {
		await client?.quit();
	});

	it('finds nothing when every copy matches (content compared by hash, whatever the key order)', async () => {
		const run = await msdb('--json');
		expect(run.exitCode, run.stderr).toBe(0);
		expect(run.json).toMatchObject({env: ENV, checked: AGENTS, differences: [], repaired: 0, remaining: 0, truncated: false, extras: {searched: true, complete: true}});
		expect(run.json.extras.keysScanned).toBe(AGENTS);
	});

	it('reports exactly the 150 corrupted copies (exit 3), --repair fixes them (exit 0), and a second run finds none', async () => {
		// Spread over the key space and the batches: 50 contents, 50 versions lowered, 50 deleted.
		const picked = rows.filter((_, index) => index % 6 === 1).slice(0, 150);
		const expected: Record<string, string> = {};
		for (const [index, row] of picked.entries()) {
			const key = agentStateKey(ENV, row.agent_id);
			if (index < 50) {
				await client.hset(key, STATE_FIELDS.state, JSON.stringify({...row.state, step: -1}));
				expected[row.agent_id] = 'content-mismatch';
			} else if (index < 100) {
				await client.hset(key, STATE_FIELDS.version, String(Number(row.version) - 1));
				expected[row.agent_id] = 'version-mismatch';
			} else {
				await client.del(key);
				expected[row.agent_id] = 'missing-in-redis';
			}
		}

		const report = await msdb('--json');
		expect(report.exitCode, report.stderr).toBe(3);
		expect(kindsOf(report)).toEqual(expected);
		expect(report.json.counts).toEqual({'missing-in-redis': 50, 'version-mismatch': 50, 'content-mismatch': 50, 'redis-ahead': 0, 'extra-in-redis': 0});
		expect(report.json).toMatchObject({checked: AGENTS, repaired: 0, remaining: 150});
		const contentDifference = report.json.differences.find((difference: {kind: string}) => difference.kind === 'content-mismatch');
		const contentRow = picked.find(row => row.agent_id === contentDifference.agentId);
		expect(contentDifference.postgres).toEqual({version: Number(contentRow?.version), hash: stateContentHash(contentRow?.state)});
		expect(contentDifference.redis).toEqual({version: Number(contentRow?.version), hash: stateContentHash({...contentRow?.state, step: -1})});
		// Reporting changed nothing.
		expect(await client.exists(agentStateKey(ENV, picked[149]?.agent_id ?? ''))).toBe(0);

		const repaired = await msdb('--repair', '--json');
		expect(repaired.exitCode, repaired.stderr).toBe(0);
		expect(kindsOf(repaired)).toEqual(expected);
		expect(repaired.json).toMatchObject({repaired: 150, remaining: 0});
		expect(repaired.json.differences.every((difference: {repaired: boolean}) => difference.repaired)).toBe(true);
		for (const row of [picked[0], picked[50], picked[100]]) {
			const [version, state] = await client.hmget(agentStateKey(ENV, row?.agent_id ?? ''), STATE_FIELDS.version, STATE_FIELDS.state);
			expect(version).toBe(row?.version);
			expect(JSON.parse(state ?? 'null')).toEqual(row?.state);
		}

		const again = await msdb('--json');
		expect(again.exitCode, again.stderr).toBe(0);
		expect(again.json).toMatchObject({checked: AGENTS, differences: [], remaining: 0});
	});

	it('leaves a newer Redis copy (redis-ahead) and copies with no row (extra-in-redis) alone, and says so (exit 3)', async () => {
		const ahead = rows[500] as Row;
		const aheadKey = agentStateKey(ENV, ahead.agent_id);
		const aheadCopy = {[STATE_FIELDS.version]: String(Number(ahead.version) + 5), [STATE_FIELDS.state]: JSON.stringify({step: 'not persisted yet'})};
		await client.hset(aheadKey, aheadCopy);
		const orphan = randomUUID();
		await client.hset(agentStateKey(ENV, orphan), STATE_FIELDS.version, '7', STATE_FIELDS.state, '{"gone":true}');
		// Tombstones (postgres-first invalidation, `v` without `s`): no copy on purpose. One of the
		// row's version is no difference, nor is one of a deleted agent; one newer than the row is.
		const [invalidated, tombstoneAhead] = [rows[10] as Row, rows[20] as Row];
		await client.del(agentStateKey(ENV, invalidated.agent_id));
		await client.del(agentStateKey(ENV, tombstoneAhead.agent_id));
		await client.hset(agentStateKey(ENV, invalidated.agent_id), STATE_FIELDS.version, invalidated.version);
		await client.hset(agentStateKey(ENV, tombstoneAhead.agent_id), STATE_FIELDS.version, String(Number(tombstoneAhead.version) + 1));
		await client.hset(agentStateKey(ENV, randomUUID()), STATE_FIELDS.version, '3');

		const run = await msdb('--repair', '--json');
		expect(run.exitCode, run.stderr).toBe(3);
		expect(kindsOf(run)).toEqual({[ahead.agent_id]: 'redis-ahead', [tombstoneAhead.agent_id]: 'redis-ahead', [orphan]: 'extra-in-redis'});
		expect(run.json).toMatchObject({repaired: 0, remaining: 3, tombstones: 2});
		expect(run.json.differences).toContainEqual({
			agentId: orphan,
			kind: 'extra-in-redis',
			postgres: null,
			redis: {version: 7, hash: stateContentHash({gone: true})},
			repaired: false,
		});
		expect(await client.hgetall(aheadKey)).toEqual(aheadCopy);
		expect(await client.hgetall(agentStateKey(ENV, invalidated.agent_id))).toEqual({[STATE_FIELDS.version]: invalidated.version});
		expect(await client.exists(agentStateKey(ENV, orphan))).toBe(1);

		const human = await msdb();
		expect(human.exitCode).toBe(3);
		expect(human.stdout).toContain(`${AGENTS} agents compared (env ${ENV}): 3 differences`);
		expect(human.stdout).toMatch(/redis-ahead\s+2/);
		expect(human.stdout).toMatch(/extra-in-redis\s+1/);
		expect(human.stdout).toContain(ahead.agent_id);
		expect(human.stdout).toContain('left alone');
		// Neither kind is something --repair would change, so it is not suggested.
		expect(human.stdout).not.toContain('--repair');

		expect(human.stdout).toContain('2 agent(s) have a tombstone');
	});
});
