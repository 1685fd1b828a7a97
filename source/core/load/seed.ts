/**
 * What a load run needs in the database before its first operation: the framework's schema (or
 * a clear refusal naming what is missing), its agents, and this month's messages partition.
 *
 * The load works on its own agents (`load-agent-0001` …), never on the framework's real ones: its
 * state writes bump versions and its claims complete tasks, which must not happen to a real
 * agent on a shared development database. They are created once and reused by every later run.
 */
import {ActionableError} from '../errors.js';
import type {DatabasePools} from '../pools/database-pools.js';

/** What the operations touch; a missing one means the migrations were not applied (or not all). */
const REQUIRED_OBJECTS: ReadonlyArray<{name: string; present: string}> = [
	{name: 'agents.agents', present: "to_regclass('agents.agents') IS NOT NULL"},
	{name: 'agents.state', present: "to_regclass('agents.state') IS NOT NULL"},
	{name: 'tasks.tasks', present: "to_regclass('tasks.tasks') IS NOT NULL"},
	{
		name: 'tasks.tasks.labels',
		present: "EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('tasks.tasks') AND attname = 'labels' AND NOT attisdropped)",
	},
	{name: 'messages.messages', present: "to_regclass('messages.messages') IS NOT NULL"},
	{name: 'messages.ensure_partitions(integer)', present: "to_regprocedure('messages.ensure_partitions(integer)') IS NOT NULL"},
];

const SCHEMA_CHECK_SQL = `SELECT ${REQUIRED_OBJECTS.map((object, index) => `${object.present} AS o${index}`).join(', ')}`;

/** The agents' names share this prefix; the label marks the load's tasks. */
export const LOAD_AGENT_PREFIX = 'load-agent-';

/** Who the audit trail names for the seeding (tasks and agents have audit triggers). */
const LOAD_ACTOR = 'msdb load';

const SEED_AGENTS_SQL = `
	INSERT INTO agents.agents (name, kind, status, capabilities, config)
	SELECT n.name, (enum_range(NULL::agents.agent_kind))[1 + (n.ordinality % 6)::int], 'idle',
	       '{"tools": ["sql", "search"]}', '{"model": "load-generator"}'
	FROM unnest($1::text[]) WITH ORDINALITY AS n(name, ordinality)
	ON CONFLICT (name) DO NOTHING`;

const LOAD_AGENTS_SQL = 'SELECT id FROM agents.agents WHERE name = ANY($1::text[]) ORDER BY name';

/** What seeding found and did. */
export type SeedResult = {
	/** Agents the load works on. */
	agents: number;
	/** Of them, created by this run (the rest existed from an earlier one). */
	created: number;
	/** Their ids, in name order. */
	agentIds: string[];
	/** Monthly messages partitions created (so the load's messages do not land in the default partition). */
	partitionsCreated: string[];
};

/** The name of the load's agent number `index` (0-based). */
export function loadAgentName(index: number): string {
	return `${LOAD_AGENT_PREFIX}${String(index + 1).padStart(4, '0')}`;
}

/**
 * Refuses (E_CONFIG_INVALID, exit 2) when the framework's schema is not there, naming what is
 * missing and `msdb migrate apply`. Connection failures come through as E_DATABASE_UNREACHABLE.
 */
export async function checkLoadSchema(pools: DatabasePools): Promise<void> {
	const {rows} = await pools.query<Record<string, boolean>>('primary', SCHEMA_CHECK_SQL);
	const row = rows[0] ?? {};
	const missing = REQUIRED_OBJECTS.filter((_object, index) => row[`o${index}`] !== true).map(object => object.name);
	if (missing.length === 0) {
		return;
	}

	const database = pools.config.roles.primary.database.display;
	throw new ActionableError(
		'E_CONFIG_INVALID',
		`The agent framework's schema is missing from ${database}: no ${missing.join(', ')}. msdb load works on the framework's tables.`,
		{
			nextStep: 'Apply the framework\'s migrations first: `msdb migrate apply` (same --database-url), then run `msdb load` again.',
			details: {database, missing},
		},
	);
}

/**
 * Creates the load's agents that do not exist yet (in one statement, idempotent under
 * concurrent runs) and the messages partitions of this month and the next. Call after
 * {@link checkLoadSchema}.
 */
export async function seedLoad(pools: DatabasePools, agents: number): Promise<SeedResult> {
	const names = Array.from({length: agents}, (_unused, index) => loadAgentName(index));
	const created = await pools.withClient('primary', async client => {
		await client.query('BEGIN');
		try {
			await client.query("SELECT set_config('msdb.actor', $1, true)", [LOAD_ACTOR]);
			const result = await client.query(SEED_AGENTS_SQL, [names]);
			await client.query('COMMIT');
			return result.rowCount ?? 0;
		} catch (error) {
			await client.query('ROLLBACK').catch(() => {});
			throw error;
		}
	});
	const {rows} = await pools.query<{id: string}>('primary', LOAD_AGENTS_SQL, [names]);
	// One month ahead as well: a run that crosses midnight at the month's end must not start
	// filling the default partition, which would stop the worker from creating that month's.
	const partitions = await pools.query<{name: string}>('primary', 'SELECT messages.ensure_partitions(1) AS name');
	return {agents: rows.length, created, agentIds: rows.map(row => row.id), partitionsCreated: partitions.rows.map(row => row.name)};
}
