/**
 * Catalog snapshots, their diff and the reset plan, against real PostgreSQL databases.
 */
import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {diffCatalogSnapshots, type CatalogDifference} from '../source/core/migrations/catalog-diff.js';
import {takeCatalogSnapshot, type CatalogSnapshot} from '../source/core/migrations/catalog-snapshot.js';
import {planReset} from '../source/core/migrations/reset-plan.js';
import {createTestDatabase, type TestDatabase} from './support/test-database.js';

const MSDB_TABLES = ['public.__ms_migrations', 'public.__ms_migrations_history', 'public.__ms_catalog_snapshots'];

/**
 * One of everything a snapshot captures, in `schema` (a plain identifier). Written the way
 * migrations are: CREATE statements only, re-runnable into another schema of the same database.
 */
function richSchemaSql(schema: string, options: {extension: boolean}): string {
	const s = schema;
	return `
${options.extension ? 'CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;' : ''}
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TYPE ${s}.agent_status AS ENUM ('idle', 'busy', 'offline');
CREATE DOMAIN ${s}.email AS text COLLATE "C" DEFAULT 'nobody@example.com' NOT NULL
	CONSTRAINT email_has_at CHECK (VALUE LIKE '%@%');
CREATE TYPE ${s}.point3 AS (x double precision, y double precision, label text COLLATE "C");
CREATE TYPE ${s}.float_range AS RANGE (subtype = double precision);

CREATE TABLE ${s}.agents (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text COLLATE "C" NOT NULL,
	status ${s}.agent_status NOT NULL DEFAULT 'idle',
	contact ${s}.email,
	score numeric(10, 2) DEFAULT 0 CONSTRAINT agents_score_check CHECK (score >= 0),
	score_doubled numeric GENERATED ALWAYS AS (score * 2) STORED,
	created_at timestamptz NOT NULL DEFAULT now(),
	tenant text NOT NULL DEFAULT current_user,
	token bytea ${options.extension ? "DEFAULT public.digest('seed', 'sha256')" : ''},
	CONSTRAINT agents_name_key UNIQUE (name)
);
CREATE INDEX agents_lower_name_idx ON ${s}.agents (lower(name));
CREATE INDEX agents_busy_idx ON ${s}.agents (created_at) WHERE status = 'busy';
ALTER TABLE ${s}.agents ENABLE ROW LEVEL SECURITY;
CREATE POLICY agents_tenant ON ${s}.agents FOR SELECT TO PUBLIC USING (tenant = current_user);

CREATE SEQUENCE ${s}.ticket_seq AS integer START 100 INCREMENT 5;
CREATE TABLE ${s}.tickets (
	id integer NOT NULL DEFAULT nextval('${s}.ticket_seq'),
	agent_id bigint REFERENCES ${s}.agents (id) ON DELETE CASCADE,
	title text,
	PRIMARY KEY (id)
);
ALTER SEQUENCE ${s}.ticket_seq OWNED BY ${s}.tickets.id;

CREATE TABLE ${s}.events (
	id bigserial,
	agent_id bigint NOT NULL REFERENCES ${s}.agents (id),
	happened_at timestamptz NOT NULL,
	payload jsonb,
	PRIMARY KEY (id, happened_at)
) PARTITION BY RANGE (happened_at);
CREATE TABLE ${s}.events_2024 PARTITION OF ${s}.events
	FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00');
CREATE TABLE ${s}.events_default PARTITION OF ${s}.events DEFAULT;
CREATE INDEX events_agent_idx ON ${s}.events (agent_id);
CREATE TABLE ${s}.event_notes (
	event_id bigint NOT NULL,
	happened_at timestamptz NOT NULL,
	note text CHECK (note <> ''),
	FOREIGN KEY (event_id, happened_at) REFERENCES ${s}.events (id, happened_at)
);
CREATE UNLOGGED TABLE ${s}."Mixed ""Case"" Table" ("Select" integer) WITH (fillfactor = 70);

CREATE FUNCTION ${s}.touch() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
	NEW.title := coalesce(NEW.title, 'untitled; really');
	RETURN NEW;
END;
$body$;
CREATE TRIGGER tickets_touch BEFORE INSERT OR UPDATE ON ${s}.tickets
	FOR EACH ROW EXECUTE FUNCTION ${s}.touch();
CREATE FUNCTION ${s}.ignore_event() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER events_ignore BEFORE INSERT ON ${s}.events FOR EACH ROW EXECUTE FUNCTION ${s}.ignore_event();

CREATE FUNCTION ${s}.double_it(value integer) RETURNS integer LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
	SELECT value * 2;
END;
CREATE FUNCTION ${s}.agent_count(min_status ${s}.agent_status DEFAULT 'idle') RETURNS bigint
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog
	AS $$ SELECT count(*) FROM ${s}.agents WHERE status >= min_status $$;
CREATE PROCEDURE ${s}.archive(before timestamptz) LANGUAGE sql
	AS $$ DELETE FROM ${s}.events WHERE happened_at < before $$;
CREATE AGGREGATE ${s}.total(integer) (sfunc = int4pl, stype = integer, initcond = '0');

CREATE VIEW ${s}.busy_agents AS SELECT id, name FROM ${s}.agents WHERE status = 'busy';
CREATE MATERIALIZED VIEW ${s}.agent_counts AS SELECT status, count(*) AS n FROM ${s}.agents GROUP BY status;
CREATE UNIQUE INDEX agent_counts_status_idx ON ${s}.agent_counts (status);
`;
}

/** What the reset test starts from: objects that predate the migrations. */
const BASELINE_SQL = `
CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;
CREATE TABLE public.legacy (id serial PRIMARY KEY, name public.citext NOT NULL);
CREATE INDEX legacy_name_idx ON public.legacy (name);
CREATE TYPE public.legacy_kind AS ENUM ('a', 'b');
CREATE FUNCTION public.legacy_fn(integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT $1';
CREATE VIEW public.legacy_names AS SELECT name FROM public.legacy;
INSERT INTO public.legacy (name) VALUES ('kept');
`;

/** Tables shaped like msdb's own, with the things that hang off them. */
const MSDB_TABLES_SQL = `
CREATE TABLE public.__ms_migrations (version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL);
CREATE TABLE public.__ms_migrations_history (
	id bigserial PRIMARY KEY,
	action text NOT NULL CHECK (action <> ''),
	version bigint REFERENCES public.__ms_migrations (version)
);
CREATE INDEX __ms_migrations_history_action_idx ON public.__ms_migrations_history (action);
CREATE TABLE public.__ms_catalog_snapshots (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, snapshot jsonb NOT NULL);
CREATE FUNCTION public.__ms_migrations_history_append_only() RETURNS trigger LANGUAGE plpgsql
	AS $$ BEGIN RAISE EXCEPTION 'append-only'; END $$;
CREATE TRIGGER __ms_append_only BEFORE UPDATE OR DELETE ON public.__ms_migrations_history
	FOR EACH ROW EXECUTE FUNCTION public.__ms_migrations_history_append_only();
`;

const databases: TestDatabase[] = [];
const clients: pg.Client[] = [];
let withExtensions = false;

async function newDatabase(label: string): Promise<pg.Client> {
	const database = await createTestDatabase(label);
	databases.push(database);
	const client = new pg.Client({connectionString: database.url});
	await client.connect();
	clients.push(client);
	return client;
}

async function snapshot(
	client: pg.ClientBase,
	options: {excludeTables: string[]; excludeNamePrefixes?: string[]} = {excludeTables: MSDB_TABLES, excludeNamePrefixes: ['__ms_']},
): Promise<CatalogSnapshot> {
	return takeCatalogSnapshot(client, options);
}

/** Runs `sql` in a transaction, returns the differences it makes, and rolls it back. */
async function differencesMadeBy(client: pg.Client, before: CatalogSnapshot, sql: string): Promise<CatalogDifference[]> {
	await client.query('BEGIN');
	try {
		await client.query(sql);
		return diffCatalogSnapshots(before, await snapshot(client));
	} finally {
		await client.query('ROLLBACK');
	}
}

beforeAll(async () => {
	const client = await newDatabase('catalog_probe');
	const {rows} = await client.query<{name: string}>(
		"SELECT name FROM pg_available_extensions WHERE name IN ('pgcrypto', 'citext')",
	);
	withExtensions = rows.length === 2;
});

afterAll(async () => {
	await Promise.all(clients.map(async (client) => client.end().catch(() => {})));
	await Promise.all(databases.map(async (database) => database.drop()));
});

describe('takeCatalogSnapshot', () => {
	let first: pg.Client;
	let second: pg.Client;
	let built: CatalogSnapshot;

	beforeAll(async () => {
		[first, second] = await Promise.all([newDatabase('catalog_a'), newDatabase('catalog_b')]);
		await first.query(richSchemaSql('agents', {extension: withExtensions}));
		await second.query(richSchemaSql('agents', {extension: withExtensions}));
		built = await snapshot(first);
	});

	it('captures every kind of object, named by identity', () => {
		const identities = Object.keys(built.objects);
		const expected = [
			'schema agents',
			'schema public',
			'type agents.agent_status',
			'type agents.point3',
			'type agents.float_range',
			'domain agents.email',
			'table agents.agents',
			'table agents.events',
			'table agents.events_2024',
			'table agents.events_default',
			'table agents."Mixed ""Case"" Table"',
			'column agents."Mixed ""Case"" Table"."Select"',
			'column agents.agents.id',
			'column agents.agents.score_doubled',
			'constraint agents.agents.agents_pkey',
			'constraint agents.agents.agents_name_key',
			'constraint agents.agents.agents_score_check',
			'constraint agents.tickets.tickets_agent_id_fkey',
			'constraint agents.event_notes.event_notes_event_id_happened_at_fkey',
			'index agents.agents_name_key',
			'index agents.agents_lower_name_idx',
			'index agents.agents_busy_idx',
			'index agents.events_agent_idx',
			'index agents.events_2024_agent_id_idx',
			'index agents.agent_counts_status_idx',
			'sequence agents.ticket_seq',
			'sequence agents.events_id_seq',
			'sequence agents.agents_id_seq',
			'function agents.touch()',
			'function agents.double_it(integer)',
			'function agents.agent_count(agents.agent_status)',
			'procedure agents.archive(timestamp with time zone)',
			'aggregate agents.total(integer)',
			'trigger agents.tickets.tickets_touch',
			'trigger agents.events.events_ignore',
			'trigger agents.events_2024.events_ignore',
			'view agents.busy_agents',
			'materialized view agents.agent_counts',
			'policy agents.agents.agents_tenant',
			...(withExtensions ? ['extension pgcrypto'] : []),
		];
		expect(identities).toEqual(expect.arrayContaining(expected));
		// Keys come sorted, and nothing from system schemas or extensions leaks in.
		expect(identities).toEqual([...identities].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
		expect(identities.filter((identity) => /pg_catalog|information_schema|pg_toast/.test(identity))).toEqual([]);
		expect(identities.filter((identity) => /digest|gen_salt|crypt\(/.test(identity))).toEqual([]);
		// A range type's multirange and constructors are PostgreSQL's, not the migration's.
		expect(identities.filter((identity) => identity.includes('float_range') && identity !== 'type agents.float_range')).toEqual([]);
	});

	it('records attributes the way a DBA reads them', () => {
		expect(built.objects['column agents.agents.id']).toMatchObject({dataType: 'bigint', notNull: true, identity: 'always'});
		expect(built.objects['column agents.agents.score_doubled']).toMatchObject({generated: '(score * (2)::numeric) STORED', default: null});
		expect(built.objects['column agents.agents.name']).toMatchObject({collation: 'pg_catalog."C"'});
		expect(built.objects['column agents.agents.status']).toMatchObject({
			dataType: 'agents.agent_status',
			default: "'idle'::agents.agent_status",
		});
		expect(built.objects['table agents.events']).toMatchObject({kind: 'partitioned table', partitionKey: 'RANGE (happened_at)'});
		// Pinned TimeZone: the bound reads the same from any client.
		expect(built.objects['table agents.events_2024']).toMatchObject({
			partitionOf: 'agents.events',
			partitionBound: "FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00')",
		});
		expect(built.objects['table agents."Mixed ""Case"" Table"']).toMatchObject({persistence: 'unlogged', options: ['fillfactor=70']});
		expect(built.objects['table agents.agents']).toMatchObject({rowSecurity: true});
		expect(built.objects['type agents.agent_status']).toMatchObject({labels: ['idle', 'busy', 'offline']});
		expect(built.objects['domain agents.email']).toMatchObject({
			baseType: 'text',
			notNull: true,
			collation: 'pg_catalog."C"',
			constraints: [{name: 'email_has_at', definition: "CHECK ((VALUE ~~ '%@%'::text))"}],
		});
		expect(built.objects['sequence agents.ticket_seq']).toMatchObject({
			dataType: 'integer',
			start: '100',
			increment: '5',
			ownedBy: {table: 'agents.tickets', column: 'id'},
			identity: false,
		});
		expect(built.objects['sequence agents.agents_id_seq']).toMatchObject({identity: true});
		expect(built.objects['index agents.agents_busy_idx']).toMatchObject({
			definition: "CREATE INDEX agents_busy_idx ON agents.agents USING btree (created_at) WHERE (status = 'busy'::agents.agent_status)",
			valid: true,
		});
		expect(built.objects['index agents.events_2024_agent_id_idx']).toMatchObject({parentIndex: 'agents.events_agent_idx'});
		expect(built.objects['function agents.agent_count(agents.agent_status)']).toMatchObject({
			volatility: 'stable',
			securityDefiner: true,
			language: 'sql',
			result: 'bigint',
		});
		expect(built.objects['trigger agents.events_2024.events_ignore']).toMatchObject({inherited: true, enabled: 'enabled'});
		expect(built.objects['policy agents.agents.agents_tenant']).toMatchObject({
			command: 'SELECT',
			roles: ['public'],
			using: '(tenant = CURRENT_USER)',
		});
	});

	it('gives deep-equal snapshots for two databases built by the same DDL', async () => {
		expect(await snapshot(second)).toEqual(built);
	});

	it('survives a JSON and a JSONB round trip unchanged', async () => {
		expect(JSON.parse(JSON.stringify(built))).toEqual(built);
		const {rows} = await first.query<{snapshot: CatalogSnapshot}>('SELECT $1::jsonb AS snapshot', [JSON.stringify(built)]);
		expect(rows[0]?.snapshot).toEqual(built);
		expect(diffCatalogSnapshots(rows[0]!.snapshot, built)).toEqual([]);
	});

	it('is the same after dropping and re-creating everything', async () => {
		await first.query(`DROP SCHEMA agents CASCADE; ${withExtensions ? 'DROP EXTENSION pgcrypto;' : ''}`);
		await first.query(richSchemaSql('agents', {extension: withExtensions}));
		expect(await snapshot(first)).toEqual(built);
	});

	it('does not depend on the session settings, and restores them', async () => {
		await first.query("SET search_path = agents, public; SET TimeZone = 'America/New_York'; SET DateStyle = 'German'");
		try {
			expect(await snapshot(first)).toEqual(built);
			const {rows} = await first.query<{search_path: string; timezone: string; datestyle: string}>(
				"SELECT current_setting('search_path') AS search_path, current_setting('TimeZone') AS timezone, current_setting('DateStyle') AS datestyle",
			);
			expect(rows[0]).toEqual({search_path: 'agents, public', timezone: 'America/New_York', datestyle: 'German, DMY'});
		} finally {
			await first.query('RESET search_path; RESET TimeZone; RESET DateStyle');
		}
	});

	it('works inside an open transaction and leaves it usable', async () => {
		await first.query('BEGIN');
		try {
			await first.query('CREATE TABLE agents.uncommitted (id integer)');
			const inTransaction = await snapshot(first);
			expect(inTransaction.objects['table agents.uncommitted']).toBeDefined();
			const {rows} = await first.query<{ok: number}>('SELECT 1 AS ok');
			expect(rows[0]?.ok).toBe(1);
		} finally {
			await first.query('ROLLBACK');
		}
	});

	it('costs one round trip', async () => {
		let calls = 0;
		const query = first.query.bind(first) as (...args: unknown[]) => unknown;
		const counting = {
			query: (...args: unknown[]) => {
				calls += 1;
				return query(...args);
			},
		} as unknown as pg.Client;
		const started = performance.now();
		await snapshot(counting);
		const elapsed = performance.now() - started;
		expect(calls).toBe(1);
		// Generous: the budget is ~100 ms on a small schema; this only catches a runaway query.
		expect(elapsed).toBeLessThan(2000);
	});

	it('leaves out msdb\'s own tables and everything hanging off them', async () => {
		await second.query('BEGIN');
		try {
			await second.query(MSDB_TABLES_SQL);
			const withoutExclusions = await snapshot(second, {excludeTables: []});
			expect(Object.keys(withoutExclusions.objects).filter((identity) => identity.includes('__ms_')).length).toBeGreaterThan(10);
			// Tables alone: their columns, indexes, constraints, triggers and identity sequences go too …
			const tablesOnly = await snapshot(second, {excludeTables: MSDB_TABLES});
			expect(Object.keys(tablesOnly.objects).filter((identity) => identity.includes('__ms_'))).toEqual([
				'function public.__ms_migrations_history_append_only()',
			]);
			// … and the prefix catches the rest.
			const excluded = await snapshot(second);
			expect(Object.keys(excluded.objects).filter((identity) => identity.includes('__ms_'))).toEqual([]);
			expect(excluded).toEqual(built);
		} finally {
			await second.query('ROLLBACK');
		}
	});
});

describe('diffCatalogSnapshots', () => {
	let client: pg.Client;
	let before: CatalogSnapshot;

	beforeAll(async () => {
		client = await newDatabase('catalog_diff');
		await client.query(richSchemaSql('agents', {extension: false}));
		before = await snapshot(client);
	});

	type Case = {change: string; sql: string; expected: Pick<CatalogDifference, 'change' | 'identity' | 'message'>[]};
	const cases: Case[] = [
		{
			change: 'ADD COLUMN',
			sql: 'ALTER TABLE agents.agents ADD COLUMN nickname text',
			expected: [
				{
					change: 'added',
					identity: 'column agents.agents.nickname',
					message: 'column agents.agents.nickname was added (text, nullable)',
				},
			],
		},
		{
			change: 'ALTER COLUMN TYPE',
			sql: 'ALTER TABLE agents.tickets ALTER COLUMN title TYPE varchar(200)',
			expected: [
				{
					change: 'changed',
					identity: 'column agents.tickets.title',
					message: 'column agents.tickets.title type changed from text to character varying(200)',
				},
			],
		},
		{
			change: 'SET DEFAULT',
			sql: "ALTER TABLE agents.tickets ALTER COLUMN title SET DEFAULT 'new'",
			expected: [
				{
					change: 'changed',
					identity: 'column agents.tickets.title',
					message: "column agents.tickets.title default changed from none to 'new'::text",
				},
			],
		},
		{
			change: 'DROP NOT NULL',
			sql: 'ALTER TABLE agents.agents ALTER COLUMN tenant DROP NOT NULL',
			expected: [
				{
					change: 'changed',
					identity: 'column agents.agents.tenant',
					message: 'column agents.agents.tenant nullability changed from NOT NULL to nullable',
				},
			],
		},
		{
			change: 'CREATE INDEX',
			sql: 'CREATE INDEX tickets_title_idx ON agents.tickets (title)',
			expected: [
				{
					change: 'added',
					identity: 'index agents.tickets_title_idx',
					message:
						'index agents.tickets_title_idx was added (CREATE INDEX tickets_title_idx ON agents.tickets USING btree (title))',
				},
			],
		},
		{
			change: 'an index definition',
			sql: 'DROP INDEX agents.agents_busy_idx; CREATE INDEX agents_busy_idx ON agents.agents (created_at)',
			expected: [
				{
					change: 'changed',
					identity: 'index agents.agents_busy_idx',
					message:
						"index agents.agents_busy_idx definition changed from CREATE INDEX agents_busy_idx ON agents.agents USING btree (created_at) WHERE (status = 'busy'::agents.agent_status) to CREATE INDEX agents_busy_idx ON agents.agents USING btree (created_at)",
				},
			],
		},
		{
			change: 'a plpgsql body replaced',
			sql: `CREATE OR REPLACE FUNCTION agents.touch() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
	NEW.title := coalesce(NEW.title, 'changed');
	RETURN NEW;
END;
$body$`,
			expected: [
				{change: 'changed', identity: 'function agents.touch()', message: 'function agents.touch() definition changed'},
			],
		},
		{
			change: 'a BEGIN ATOMIC body replaced',
			sql: 'CREATE OR REPLACE FUNCTION agents.double_it(value integer) RETURNS integer LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT value * 3; END',
			expected: [
				{
					change: 'changed',
					identity: 'function agents.double_it(integer)',
					message: 'function agents.double_it(integer) definition changed',
				},
			],
		},
		{
			change: 'volatility and body',
			sql: 'ALTER FUNCTION agents.double_it(integer) STABLE',
			expected: [
				{
					change: 'changed',
					identity: 'function agents.double_it(integer)',
					message: 'function agents.double_it(integer) changed: definition changed; volatility changed from IMMUTABLE to STABLE',
				},
			],
		},
		{
			change: 'DROP TRIGGER',
			sql: 'DROP TRIGGER tickets_touch ON agents.tickets',
			expected: [
				{
					change: 'removed',
					identity: 'trigger agents.tickets.tickets_touch',
					message:
						'trigger agents.tickets.tickets_touch was removed (CREATE TRIGGER tickets_touch BEFORE INSERT OR UPDATE ON agents.tickets FOR EACH ROW EXECUTE FUNCTION agents.touch())',
				},
			],
		},
		{
			change: 'DISABLE TRIGGER',
			sql: 'ALTER TABLE agents.tickets DISABLE TRIGGER tickets_touch',
			expected: [
				{
					change: 'changed',
					identity: 'trigger agents.tickets.tickets_touch',
					message: 'trigger agents.tickets.tickets_touch trigger state changed from enabled to disabled',
				},
			],
		},
		{
			change: 'ADD VALUE to an enum',
			sql: "ALTER TYPE agents.agent_status ADD VALUE 'paused' BEFORE 'offline'",
			expected: [
				{
					change: 'changed',
					identity: 'type agents.agent_status',
					message: "type agents.agent_status enum labels: added 'paused' before 'offline'",
				},
			],
		},
		{
			change: 'ALTER VIEW SET (option)',
			sql: 'ALTER VIEW agents.busy_agents SET (security_barrier = true)',
			expected: [
				{
					change: 'changed',
					identity: 'view agents.busy_agents',
					message: 'view agents.busy_agents options changed from none to (security_barrier=true)',
				},
			],
		},
		{
			change: 'ALTER VIEW RENAME COLUMN',
			sql: 'ALTER VIEW agents.busy_agents RENAME COLUMN name TO agent_name',
			expected: [
				{change: 'changed', identity: 'view agents.busy_agents', message: 'view agents.busy_agents definition changed'},
			],
		},
		{
			change: 'a materialized view re-created differently',
			sql: `DROP MATERIALIZED VIEW agents.agent_counts;
CREATE MATERIALIZED VIEW agents.agent_counts AS SELECT status, count(*) AS n FROM agents.agents WHERE score > 0 GROUP BY status;
CREATE UNIQUE INDEX agent_counts_status_idx ON agents.agent_counts (status)`,
			expected: [
				{
					change: 'changed',
					identity: 'materialized view agents.agent_counts',
					message: 'materialized view agents.agent_counts definition changed',
				},
			],
		},
		{
			change: 'DROP CONSTRAINT',
			sql: 'ALTER TABLE agents.agents DROP CONSTRAINT agents_score_check',
			expected: [
				{
					change: 'removed',
					identity: 'constraint agents.agents.agents_score_check',
					message: 'constraint agents.agents.agents_score_check was removed (CHECK ((score >= (0)::numeric)))',
				},
			],
		},
		{
			change: 'ALTER SEQUENCE',
			sql: 'ALTER SEQUENCE agents.ticket_seq INCREMENT BY 10',
			expected: [
				{
					change: 'changed',
					identity: 'sequence agents.ticket_seq',
					message: 'sequence agents.ticket_seq increment changed from 5 to 10',
				},
			],
		},
		{
			change: 'ENABLE ROW LEVEL SECURITY',
			sql: 'ALTER TABLE agents.tickets ENABLE ROW LEVEL SECURITY',
			expected: [
				{
					change: 'changed',
					identity: 'table agents.tickets',
					message: 'table agents.tickets row level security changed from disabled to enabled',
				},
			],
		},
		{
			change: 'ALTER POLICY',
			sql: 'ALTER POLICY agents_tenant ON agents.agents USING (true)',
			expected: [
				{
					change: 'changed',
					identity: 'policy agents.agents.agents_tenant',
					message: 'policy agents.agents.agents_tenant USING expression changed from (tenant = CURRENT_USER) to true',
				},
			],
		},
		{
			change: 'ALTER DOMAIN ADD CONSTRAINT',
			sql: 'ALTER DOMAIN agents.email ADD CONSTRAINT email_short CHECK (length(VALUE) < 200)',
			expected: [
				{
					change: 'changed',
					identity: 'domain agents.email',
					message:
						"domain agents.email constraints changed from (email_has_at CHECK ((VALUE ~~ '%@%'::text))) to (email_has_at CHECK ((VALUE ~~ '%@%'::text)), email_short CHECK ((length(VALUE) < 200)))",
				},
			],
		},
		{
			change: 'a column dropped and re-added at the end',
			sql: `ALTER TABLE agents.tickets DROP COLUMN agent_id;
ALTER TABLE agents.tickets ADD COLUMN agent_id bigint REFERENCES agents.agents (id) ON DELETE CASCADE`,
			expected: [
				{
					change: 'changed',
					identity: 'table agents.tickets',
					message: 'table agents.tickets column order changed from (id, agent_id, title) to (id, title, agent_id)',
				},
			],
		},
		{
			change: 'CREATE EXTENSION (its objects are not listed one by one)',
			sql: 'CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public',
			expected: [{change: 'added', identity: 'extension pg_trgm', message: expect.stringMatching(/^extension pg_trgm was added \(version [\d.]+ in schema public\)$/) as unknown as string}],
		},
	];

	it.each(cases)('names the difference made by $change', async ({sql, expected}) => {
		const differences = await differencesMadeBy(client, before, sql);
		expect(differences.map(({change, identity, message}) => ({change, identity, message}))).toEqual(expected);
	});

	it('reports nothing for data changes: rows, sequence positions, matview refreshes', async () => {
		const differences = await differencesMadeBy(
			client,
			before,
			`INSERT INTO agents.agents (name) VALUES ('ada');
INSERT INTO agents.tickets (title) VALUES ('first');
SELECT nextval('agents.ticket_seq'), nextval('agents.events_id_seq');
REFRESH MATERIALIZED VIEW agents.agent_counts;
ANALYZE agents.agents;`,
		);
		expect(differences).toEqual([]);
	});

	it('reports several changes sorted by schema, table and kind, with values for machines', async () => {
		const differences = await differencesMadeBy(
			client,
			before,
			`CREATE TABLE agents.zeta (id integer);
ALTER TABLE agents.agents ADD COLUMN nickname text NOT NULL DEFAULT 'x';
CREATE INDEX agents_nickname_idx ON agents.agents (nickname);
ALTER TABLE agents.agents ALTER COLUMN score SET DEFAULT 1;
CREATE SCHEMA aardvark;`,
		);
		expect(differences.map((difference) => difference.identity)).toEqual([
			'schema aardvark',
			'column agents.agents.nickname',
			'column agents.agents.score',
			'index agents.agents_nickname_idx',
			'table agents.zeta',
			'column agents.zeta.id',
		]);
		expect(differences[1]?.message).toBe("column agents.agents.nickname was added (text, NOT NULL, default 'x'::text)");
		expect(differences[2]).toMatchObject({
			change: 'changed',
			objectType: 'column',
			expected: {default: '0'},
			actual: {default: '1'},
		});
		expect(differences[4]).toMatchObject({change: 'added', objectType: 'table', actual: {type: 'table', name: 'zeta'}});
	});

	it('reports a removed object with what it was', async () => {
		const differences = await differencesMadeBy(client, before, 'DROP VIEW agents.busy_agents');
		expect(differences).toEqual([
			{
				change: 'removed',
				objectType: 'view',
				identity: 'view agents.busy_agents',
				message: 'view agents.busy_agents was removed',
				expected: before.objects['view agents.busy_agents'],
			},
		]);
	});
});

describe('planReset', () => {
	let client: pg.Client;
	let baseline: CatalogSnapshot;

	beforeAll(async () => {
		client = await newDatabase('catalog_reset');
		await client.query(BASELINE_SQL.replaceAll('public.citext', withExtensions ? 'public.citext' : 'text').replace(
			/CREATE EXTENSION.*\n/,
			withExtensions ? '$&' : '',
		));
		await client.query(MSDB_TABLES_SQL);
		baseline = await snapshot(client);
	});

	it('plans nothing when nothing was added', () => {
		expect(planReset(baseline, baseline)).toEqual({statements: [], objects: [], warnings: []});
	});

	it('drops everything the migrations made, keeps what was there, and returns to the baseline', async () => {
		// "Migrations": a new schema, the same objects again in public, and additions to baseline tables.
		await client.query(richSchemaSql('agents', {extension: withExtensions}));
		await client.query(richSchemaSql('public', {extension: withExtensions}));
		await client.query(`
ALTER TABLE public.legacy ADD COLUMN status public.agent_status;
ALTER TABLE public.legacy ADD COLUMN counter serial;
ALTER TABLE public.legacy ADD COLUMN agent_id bigint CONSTRAINT legacy_agent_fkey REFERENCES public.agents (id);
ALTER TABLE public.legacy ADD CONSTRAINT legacy_name_not_empty CHECK (name <> '');
ALTER TABLE public.legacy ADD CONSTRAINT legacy_name_unique UNIQUE (name);
CREATE INDEX legacy_lower_name_idx ON public.legacy (lower(name));
CREATE TRIGGER legacy_touch BEFORE UPDATE ON public.legacy FOR EACH ROW EXECUTE FUNCTION public.ignore_event();
CREATE POLICY legacy_all ON public.legacy USING (true);
CREATE VIEW public.legacy_with_status AS SELECT id, status FROM public.legacy;
CREATE TABLE public.legacy_events PARTITION OF public.events FOR VALUES FROM ('2030-01-01') TO ('2031-01-01');
INSERT INTO public.legacy (name) VALUES ('added later');
INSERT INTO public.__ms_migrations VALUES (1, 'rich', 'abc');
`);
		const live = await snapshot(client);
		const plan = planReset(baseline, live);

		expect(plan.warnings).toEqual([]);
		expect(plan.statements).toHaveLength(plan.objects.length);
		expect(plan.statements).toEqual(
			expect.arrayContaining([
				'DROP SCHEMA IF EXISTS "agents" CASCADE',
				'ALTER TABLE IF EXISTS "public"."legacy" DROP COLUMN IF EXISTS "status" CASCADE',
				'ALTER TABLE IF EXISTS "public"."legacy" DROP COLUMN IF EXISTS "counter" CASCADE',
				'ALTER TABLE IF EXISTS "public"."legacy" DROP CONSTRAINT IF EXISTS "legacy_agent_fkey" CASCADE',
				'ALTER TABLE IF EXISTS "public"."legacy" DROP CONSTRAINT IF EXISTS "legacy_name_unique" CASCADE',
				'DROP INDEX IF EXISTS "public"."legacy_lower_name_idx" CASCADE',
				'DROP TRIGGER IF EXISTS "legacy_touch" ON "public"."legacy" CASCADE',
				'DROP POLICY IF EXISTS "legacy_all" ON "public"."legacy"',
				'DROP TABLE IF EXISTS "public"."events" CASCADE',
				'DROP TABLE IF EXISTS "public"."Mixed ""Case"" Table" CASCADE',
				'DROP MATERIALIZED VIEW IF EXISTS "public"."agent_counts" CASCADE',
				'DROP PROCEDURE IF EXISTS "public"."archive"(timestamp with time zone) CASCADE',
				'DROP AGGREGATE IF EXISTS "public"."total"(integer) CASCADE',
				'DROP FUNCTION IF EXISTS "public"."agent_count"(public.agent_status) CASCADE',
				'DROP TYPE IF EXISTS "public"."agent_status" CASCADE',
				'DROP DOMAIN IF EXISTS "public"."email" CASCADE',
				...(withExtensions ? ['DROP EXTENSION IF EXISTS "pgcrypto" CASCADE'] : []),
			]),
		);
		// Things that go with their owner get no statement of their own …
		const statements = plan.statements.join('\n');
		expect(statements).not.toMatch(/events_2024|legacy_events|events_default|agents_name_key|events_id_seq|legacy_counter_seq|agents_id_seq/);
		expect(statements).not.toMatch(/"agents"\."/);
		// … and nothing from the baseline or msdb's tables is touched.
		expect(statements).not.toMatch(/legacy_fn|legacy_kind|legacy_names|legacy_name_idx|legacy_pkey|citext|__ms_|DROP TABLE IF EXISTS "public"."legacy"/);
		expect(plan.objects).toEqual(expect.arrayContaining(['schema agents and everything in it', 'partitioned table public.events with 3 partitions']));
		// Dependencies point every which way, so the order must not matter for success.
		expect(plan.statements.findIndex((s) => s.startsWith('DROP SCHEMA'))).toBe(0);

		await client.query('BEGIN');
		try {
			for (const statement of plan.statements) {
				await client.query(statement);
			}

			await client.query('COMMIT');
		} catch (error) {
			await client.query('ROLLBACK');
			throw error;
		}

		const after = await snapshot(client);
		expect(diffCatalogSnapshots(baseline, after)).toEqual([]);
		expect(after).toEqual(baseline);
		const {rows} = await client.query<{name: string}>('SELECT name::text FROM public.legacy ORDER BY id');
		expect(rows.map((row) => row.name)).toEqual(['kept', 'added later']);
		const ledger = await client.query('SELECT version FROM public.__ms_migrations');
		expect(ledger.rowCount).toBe(1);
	});

	it('warns about baseline objects it cannot restore', async () => {
		const differences = await differencesMadeBy(client, baseline, 'SELECT 1');
		expect(differences).toEqual([]);
		await client.query('BEGIN');
		try {
			await client.query(`DROP VIEW public.legacy_names;
ALTER TABLE public.legacy ALTER COLUMN name TYPE varchar(50);
ALTER TYPE public.legacy_kind ADD VALUE 'c';
CREATE TABLE public.brand_new (id integer);`);
			const plan = planReset(baseline, await snapshot(client));
			expect(plan.statements).toEqual(['DROP TABLE IF EXISTS "public"."brand_new" CASCADE']);
			expect(plan.objects).toEqual(['table public.brand_new']);
			expect(plan.warnings).toEqual([
				`column public.legacy.name type changed from ${withExtensions ? 'public.citext' : 'text'} to character varying(50); reset does not undo this`,
				"type public.legacy_kind enum labels: added 'c' at the end; reset does not undo this",
				'view public.legacy_names was removed; reset does not re-create it',
			]);
		} finally {
			await client.query('ROLLBACK');
		}
	});
});
