/**
 * The agent framework's schema (top-level migrations/ and rollbacks/), applied with the real
 * msdb CLI on real PostgreSQL, and exercised the way the framework will use it.
 */
import {readdir} from 'node:fs/promises';
import {fileURLToPath} from 'node:url';
import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {createTestDatabase, type TestDatabase} from './support/test-database.js';
import {runMsdb} from './support/run-msdb.js';
import {query} from './support/sql.js';

const REPOSITORY = fileURLToPath(new URL('..', import.meta.url));
const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));
const ROLLBACKS_DIR = fileURLToPath(new URL('../rollbacks', import.meta.url));

async function msdb(database: TestDatabase, ...args: string[]) {
	return runMsdb([...args, '--migrations-dir', MIGRATIONS_DIR, '--rollbacks-dir', ROLLBACKS_DIR], {
		cwd: REPOSITORY,
		env: {DATABASE_URL: database.url},
	});
}

async function migrationVersions(): Promise<number[]> {
	return (await readdir(MIGRATIONS_DIR)).map(file => Number.parseInt(file, 10)).sort((a, b) => a - b);
}

async function latestSnapshot(database: TestDatabase, kind: string): Promise<{version: number | null; snapshot: unknown}> {
	const [row] = await query(database.url, 'SELECT version::int, snapshot FROM __ms_catalog_snapshots WHERE kind = $1 ORDER BY id DESC LIMIT 1', [kind]);
	return row;
}

type PlanNode = {'Node Type': string; 'Index Name'?: string; 'Relation Name'?: string; Plans?: PlanNode[]};

/** Every node of an EXPLAIN (FORMAT JSON) plan, flattened. */
async function explain(client: pg.Client, sql: string): Promise<PlanNode[]> {
	const result = await client.query(`EXPLAIN (FORMAT JSON) ${sql}`);
	const nodes: PlanNode[] = [];
	const walk = (node: PlanNode) => {
		nodes.push(node);
		for (const child of node.Plans ?? []) {
			walk(child);
		}
	};

	walk(result.rows[0]['QUERY PLAN'][0].Plan);
	return nodes;
}

describe('the framework schema as migrations', () => {
	it('applies on a fresh database, rolls all the way back, applies again: no drift, the same snapshot', async () => {
		const database = await createTestDatabase('schema_cycle');
		try {
			const first = await msdb(database, 'migrate', 'apply', '--json');
			expect(first.exitCode, first.stderr).toBe(0);
			expect(first.json.applied.map((row: any) => row.version)).toEqual(await migrationVersions());
			const firstSnapshot = await latestSnapshot(database, 'after-apply');
			expect(Object.keys((firstSnapshot.snapshot as any).objects)).toContain('table messages.messages');

			const validate = await msdb(database, 'migrate', 'validate', '--json');
			expect(validate.json).toEqual({ok: true, problems: []});

			const down = await msdb(database, 'migrate', 'rollback', '--to', '0', '--json');
			expect(down.exitCode, down.stderr).toBe(0);
			const schemas = await query(database.url, "SELECT nspname FROM pg_namespace WHERE nspname IN ('agents', 'tasks', 'messages', 'sessions', 'knowledge', 'audit')");
			expect(schemas).toEqual([]);

			const again = await msdb(database, 'migrate', 'apply', '--json');
			expect(again.exitCode, again.stderr).toBe(0);
			const drift = await msdb(database, 'migrate', 'drift', '--json');
			expect(drift.exitCode).toBe(0);
			expect(drift.json.ok).toBe(true);
			expect((await latestSnapshot(database, 'after-apply')).snapshot).toEqual(firstSnapshot.snapshot);
		} finally {
			await database.drop();
		}
	});

	it('has rollbacks that each undo exactly their migration', async () => {
		const database = await createTestDatabase('schema_steps');
		try {
			const versions = await migrationVersions();
			const afterApply = new Map<number, unknown>();
			for (const version of versions) {
				const run = await msdb(database, 'migrate', 'apply', '--target', String(version));
				expect(run.exitCode, run.stderr).toBe(0);
				afterApply.set(version, (await latestSnapshot(database, 'after-apply')).snapshot);
			}

			const baseline = (await latestSnapshot(database, 'baseline')).snapshot;
			for (const [index, version] of [...versions.entries()].reverse()) {
				const run = await msdb(database, 'migrate', 'rollback', '--json');
				expect(run.exitCode, run.stderr).toBe(0);
				expect(run.json.rolledBack).toEqual([expect.objectContaining({version})]);
				const previous = index === 0 ? baseline : afterApply.get(versions[index - 1]!);
				const {snapshot} = await latestSnapshot(database, 'after-rollback');
				expect(snapshot, `rolling back ${version} should restore the schema after ${versions[index - 1] ?? 'nothing'}`).toEqual(previous);
			}
		} finally {
			await database.drop();
		}
	});
});

describe('the framework schema in use', () => {
	let database: TestDatabase;
	let client: pg.Client;

	beforeAll(async () => {
		database = await createTestDatabase('schema_use');
		const run = await msdb(database, 'migrate', 'apply');
		expect(run.exitCode, run.stderr).toBe(0);
		client = new pg.Client({connectionString: database.url});
		await client.connect();
	});

	afterAll(async () => {
		await client.end();
		await database.drop();
	});

	it('creates monthly message partitions once, routes rows to them, and prunes to one partition', async () => {
		// "The current month" is read once, in the transaction that creates the partitions: now()
		// is the transaction's start time, so ensure_partitions and every date below agree on it
		// even when the test runs across midnight at the end of a month.
		await client.query('BEGIN');
		const first = await client.query<{name: string}>('SELECT messages.ensure_partitions(3) AS name');
		const second = await client.query('SELECT messages.ensure_partitions(3) AS name');
		const [{monthStart, month}] = (
			await client.query<{monthStart: string; month: string}>(
				`SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::text AS "monthStart",
				        to_char(date_trunc('month', now() AT TIME ZONE 'UTC'), 'YYYY"m"MM') AS month`,
			)
		).rows as [{monthStart: string; month: string}];
		await client.query('COMMIT');
		expect(first.rows).toHaveLength(4);
		expect(second.rows).toHaveLength(0);
		expect(first.rows[0]?.name).toBe(`messages_y${month}`);

		// Partitions created at run time are layout, not schema: no drift. But an index made on
		// one partition alone is a schema change, and is reported.
		expect((await msdb(database, 'migrate', 'drift')).exitCode).toBe(0);
		await client.query(`CREATE INDEX hand_made_idx ON messages.${first.rows[0]?.name} (content)`);
		const drift = await msdb(database, 'migrate', 'drift', '--json');
		expect(drift.exitCode).toBe(3);
		expect(drift.json.problems).toEqual([expect.objectContaining({identity: 'index messages.hand_made_idx', change: 'added'})]);
		await client.query('DROP INDEX messages.hand_made_idx');

		// 100k messages spread evenly over that month and the next two (UTC).
		await client.query(
			`INSERT INTO messages.messages (conversation_id, role, content, created_at)
			 SELECT ('00000000-0000-0000-0000-' || lpad((i % 500)::text, 12, '0'))::uuid,
			        (ARRAY['user', 'agent', 'tool']::messages.message_role[])[1 + i % 3],
			        'message ' || i,
			        ($1::timestamp + make_interval(months => i % 3) + make_interval(mins => i % 40000)) AT TIME ZONE 'UTC'
			 FROM generate_series(0, 99999) AS i`,
			[monthStart],
		);
		const counts = await client.query<{partition: string; count: number}>(
			'SELECT tableoid::regclass::text AS partition, count(*)::int AS count FROM messages.messages GROUP BY 1 ORDER BY 1',
		);
		expect(counts.rows.map(row => row.partition)).toEqual(first.rows.slice(0, 3).map(row => `messages.${row.name}`));
		expect(counts.rows.map(row => row.count)).toEqual([33_334, 33_333, 33_333]);

		await client.query('ANALYZE messages.messages');
		const nextMonth = await client.query<{start: string; end: string}>(
			`SELECT ($1::timestamp + interval '1 month')::text || '+00' AS start, ($1::timestamp + interval '2 months')::text || '+00' AS end`,
			[monthStart],
		);
		const {start, end} = nextMonth.rows[0]!;
		const plan = await explain(client, `SELECT count(*) FROM messages.messages WHERE created_at >= '${start}' AND created_at < '${end}'`);
		const scanned = new Set(plan.map(node => node['Relation Name']).filter(Boolean));
		expect([...scanned]).toEqual([first.rows[1]?.name]);
	});

	it('moves nothing: a month already holding rows in the default partition is skipped', async () => {
		// One transaction, so the month the row is put in and the months ensure_partitions covers
		// are counted from the same now(), even across the end of a month.
		await client.query('BEGIN');
		const months = await client.query<{name: string}>(
			`SELECT 'messages_y' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m), 'YYYY"m"MM') AS name
			 FROM generate_series(0, 9) AS m ORDER BY m`,
		);
		const existing = await client.query<{name: string}>("SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = 'messages.messages'::regclass");
		const farMonth = "(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '8 months' + interval '3 days') AT TIME ZONE 'UTC'";
		await client.query(`INSERT INTO messages.messages (conversation_id, role, content, created_at) VALUES (gen_random_uuid(), 'user', 'early', ${farMonth})`);
		const created = await client.query<{name: string}>('SELECT messages.ensure_partitions(9) AS name');
		await client.query('COMMIT');
		const alreadyThere = new Set(existing.rows.map(row => row.name));
		const skipped = months.rows[8]!.name;
		// Months 0 to 3 exist from the test above and 8 holds the row, so 4 to 7 and 9 are created
		// (counted from this transaction's month, in case the month changed since that test).
		expect(alreadyThere.has(`messages.${months.rows[0]!.name}`)).toBe(true);
		expect(created.rows.map(row => row.name)).toEqual(months.rows.map(row => row.name).filter(name => !alreadyThere.has(`messages.${name}`) && name !== skipped));
		const [{where}] = (await client.query<{where: string}>("SELECT tableoid::regclass::text AS where FROM messages.messages WHERE content = 'early'")).rows as [{where: string}];
		expect(where).toBe('messages.messages_default');
	});

	it('finds agents by capability through the GIN index, and the next queued tasks through the partial index', async () => {
		await client.query(`
			INSERT INTO agents.agents (name, kind, status, capabilities, config)
			SELECT 'agent-' || i,
			       (ARRAY['coordinator', 'planner', 'executor', 'researcher', 'reviewer', 'tool']::agents.agent_kind[])[1 + i % 6],
			       'idle',
			       jsonb_build_object('tools', CASE WHEN i % 100 = 0 THEN jsonb_build_array('search', 'sql') ELSE jsonb_build_array('search', 'code') END,
			                          'languages', jsonb_build_array('en')),
			       jsonb_build_object('model', 'm' || (i % 4))
			FROM generate_series(1, 10000) AS i`);
		await client.query(`
			INSERT INTO tasks.tasks (title, status, priority, scheduled_at, deadline_at, payload)
			SELECT 'task ' || i,
			       CASE WHEN i % 50 = 0 THEN 'queued' ELSE 'succeeded' END::tasks.task_status,
			       i % 11,
			       now() - make_interval(secs => i),
			       CASE WHEN i % 50 = 0 AND i % 100 = 0 THEN now() - interval '1 hour' END,
			       jsonb_build_object('n', i)
			FROM generate_series(1, 20000) AS i`);
		// Rows inserted after a GIN index was built wait in its pending list, which the planner
		// prices as a scan; VACUUM (autovacuum, in production) merges them into the index.
		await client.query('VACUUM ANALYZE agents.agents');
		await client.query('VACUUM ANALYZE tasks.tasks');

		const sql = await client.query(`SELECT count(*)::int AS n FROM agents.agents WHERE capabilities @> '{"tools": ["sql"]}'`);
		expect(sql.rows[0].n).toBe(100);
		const capabilityPlan = await explain(client, `SELECT id, name FROM agents.agents WHERE capabilities @> '{"tools": ["sql"]}'`);
		expect(capabilityPlan).toContainEqual(expect.objectContaining({'Node Type': 'Bitmap Index Scan', 'Index Name': 'agents_capabilities_gin'}));

		const queue = "SELECT id, priority, scheduled_at FROM tasks.tasks WHERE status = 'queued' ORDER BY priority DESC, scheduled_at LIMIT 20";
		const queuePlan = await explain(client, queue);
		// An ordered (Only) Index Scan reads the queue in order and stops after 20 rows; a Bitmap
		// Index Scan on the same index would read every queued row and sort them.
		expect(queuePlan.some(node => /^Index (Only )?Scan$/.test(node['Node Type']) && node['Index Name'] === 'tasks_queue_idx')).toBe(true);
		const [queueIndex] = (
			await client.query<{predicate: string; definition: string}>(
				`SELECT pg_get_expr(i.indpred, i.indrelid) AS predicate, pg_get_indexdef(i.indexrelid) AS definition
				 FROM pg_index i WHERE i.indexrelid = 'tasks.tasks_queue_idx'::regclass`,
			)
		).rows;
		// Partial: only queued rows are in the index at all.
		expect(queueIndex?.predicate).toBe("(status = 'queued'::tasks.task_status)");
		expect(queueIndex?.definition).toContain('(priority DESC, scheduled_at, id)');
		const next = await client.query<{priority: number}>(queue);
		expect(next.rows).toHaveLength(20);
		expect(next.rows[0]?.priority).toBe(10);

		const overduePlan = await explain(client, "SELECT id FROM tasks.tasks WHERE status IN ('queued', 'running', 'blocked') AND deadline_at IS NOT NULL AND deadline_at < now()");
		expect(overduePlan.some(node => node['Index Name'] === 'tasks_overdue_idx')).toBe(true);
	});

	it('ranks knowledge chunks by relevance with full-text search', async () => {
		const document = await client.query<{id: string}>("INSERT INTO knowledge.documents (title, source_uri) VALUES ('Runbook', 'https://example.test/runbook') RETURNING id");
		const documentId = document.rows[0]!.id;
		// Inserted least relevant first, so the ranking has to reverse the heap order: a query that
		// lost its ORDER BY, or a search column that lost its weights, returns them differently.
		await client.query(
			`INSERT INTO knowledge.chunks (document_id, ordinal, content, metadata) VALUES
			 ($1, 0, 'Redis memory grows when keys have no TTL. A backup of Redis is an RDB file.', '{}'),
			 ($1, 1, 'Agents pick tasks from the queue by priority.', '{"heading": "Task queue"}'),
			 ($1, 2, 'How to restore a PostgreSQL backup: verify the manifest, restore into a new database, then switch.', '{}'),
			 ($1, 3, 'Check the manifest first, then switch the application over.', '{"heading": "Restore a backup"}')`,
			[documentId],
		);
		const results = await client.query<{ordinal: number; rank: number}>(
			`SELECT ordinal, ts_rank(search, query) AS rank
			 FROM knowledge.chunks, websearch_to_tsquery('english', 'restoring or backups') AS query
			 WHERE search @@ query ORDER BY rank DESC`,
		);
		// Both words in the heading (weight A) beat them in the body (B), though the body says
		// "restore" twice; both words beat one.
		expect(results.rows.map(row => row.ordinal)).toEqual([3, 2, 0]);
		const ranks = results.rows.map(row => row.rank);
		for (const [index, rank] of ranks.entries()) {
			if (index > 0) {
				expect(rank, `rank ${index + 1} of ${JSON.stringify(results.rows)}`).toBeLessThan(ranks[index - 1]!);
			}
		}

		const plan = await explain(client, "SELECT id FROM knowledge.chunks WHERE search @@ websearch_to_tsquery('english', 'backup')");
		// Four rows do not need the index; what matters is that the planner may use it.
		await client.query('SET enable_seqscan = off');
		const forced = await explain(client, "SELECT id FROM knowledge.chunks WHERE search @@ websearch_to_tsquery('english', 'backup')");
		await client.query('RESET enable_seqscan');
		expect(plan.length).toBeGreaterThan(0);
		expect(forced.some(node => node['Index Name'] === 'chunks_search_gin')).toBe(true);
	});

	it.each([
		['an unknown enum value', "INSERT INTO agents.agents (name, kind) VALUES ('x', 'wizard')", '22P02', /invalid input value for enum agents.agent_kind: "wizard"/],
		['an empty name', "INSERT INTO agents.agents (name, kind) VALUES ('  ', 'tool')", '23514', /non_empty_text/],
		['priority 11', "INSERT INTO tasks.tasks (title, priority) VALUES ('t', 11)", '23514', /priority/],
		['capabilities that are not an object', "INSERT INTO agents.agents (name, kind, capabilities) VALUES ('y', 'tool', '[]')", '23514', /agents_capabilities_is_object/],
		['a token that is not a sha256', "INSERT INTO sessions.sessions (token_hash, user_id, expires_at, absolute_expires_at) VALUES ('\\x00', 'u', now() + interval '1 hour', now() + interval '1 day')", '23514', /sessions_token_hash_is_sha256/],
	])('rejects %s with the database\'s own error', async (_label, statement, code, message) => {
		await expect(client.query(statement)).rejects.toMatchObject({code, message: expect.stringMatching(message)});
	});

	it('rejects a task depending on itself, or on a task that depends on it', async () => {
		const ids = await client.query<{id: string}>("INSERT INTO tasks.tasks (title) VALUES ('a'), ('b'), ('c') RETURNING id");
		const [a, b, c] = ids.rows.map(row => row.id);
		await expect(client.query('INSERT INTO tasks.dependencies (task_id, depends_on_task_id) VALUES ($1, $1)', [a])).rejects.toMatchObject({
			code: '23514',
			constraint: 'dependencies_not_self',
		});
		await client.query('INSERT INTO tasks.dependencies (task_id, depends_on_task_id) VALUES ($1, $2), ($2, $3)', [a, b, c]);
		await expect(client.query('INSERT INTO tasks.dependencies (task_id, depends_on_task_id) VALUES ($1, $2)', [c, a])).rejects.toMatchObject({
			code: '23514',
			message: expect.stringContaining('cycle'),
		});
	});

	it('audits who changed what, and refuses to change the audit trail', async () => {
		await client.query("INSERT INTO agents.agents (name, kind) VALUES ('audited', 'planner')");
		await client.query("BEGIN; SET LOCAL msdb.actor = 'alice@example.test'");
		await client.query("UPDATE agents.agents SET status = 'busy' WHERE name = 'audited'");
		await client.query('COMMIT');
		await client.query("DELETE FROM agents.agents WHERE name = 'audited'");

		const events = await client.query(
			`SELECT actor, operation, old_row ->> 'status' AS old_status, new_row ->> 'status' AS new_status, new_row ->> 'row_version' AS version
			 FROM audit.events WHERE table_name = 'agents' AND coalesce(new_row, old_row) ->> 'name' = 'audited' ORDER BY id`,
		);
		expect(events.rows).toEqual([
			{actor: 'postgres', operation: 'INSERT', old_status: null, new_status: 'starting', version: '1'},
			{actor: 'alice@example.test', operation: 'UPDATE', old_status: 'starting', new_status: 'busy', version: '2'},
			{actor: 'postgres', operation: 'DELETE', old_status: 'busy', new_status: null, version: null},
		]);

		await expect(client.query("UPDATE audit.events SET actor = 'mallory'")).rejects.toMatchObject({code: '42501', message: expect.stringContaining('append-only')});
		await expect(client.query('DELETE FROM audit.events')).rejects.toMatchObject({code: '42501'});
		await expect(client.query('TRUNCATE audit.events')).rejects.toMatchObject({code: '42501'});
		const remaining = await client.query("SELECT count(*)::int AS n FROM audit.events WHERE actor = 'mallory'");
		expect(remaining.rows[0].n).toBe(0);
	});
});
