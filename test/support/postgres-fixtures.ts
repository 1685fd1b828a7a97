/**
 * PostgreSQL data for backup tests: a pgbench database plus the agent framework's schema with
 * rows in every schema, and an ordered content hash of every table to compare copies with.
 */
import {fileURLToPath} from 'node:url';
import {execa} from 'execa';
import pg from 'pg';
import {inject} from 'vitest';
import {libpqEnvironment, tableContentHashes} from '../../source/core/backup/postgres/index.js';
import {resolveDatabaseConfig, type DatabaseConfig} from '../../source/core/config/database-config.js';
import {applyMigrations} from '../../source/core/migrations/apply.js';
import {DEFAULT_LIMITS} from '../../source/core/migrations/migration-settings.js';
import type {TestDatabase} from './test-database.js';
import {query} from './sql.js';

/** The acceptance scale; `pgbench -i -s 10` takes about a second here. */
export const SCALE = Number(process.env.MSDB_TEST_PGBENCH_SCALE ?? 10);
const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));
const ROLLBACKS_DIR = fileURLToPath(new URL('../../rollbacks', import.meta.url));

/** Some rows in every schema of the agent framework (the audit triggers fill audit.events). */
export const AGENT_DATA_SQL = `
	SELECT set_config('msdb.actor', 'backup-test', false);
	INSERT INTO agents.agents (name, kind, status, capabilities, config)
		SELECT 'agent-' || i, (enum_range(NULL::agents.agent_kind))[1 + i % 6], 'idle',
		       jsonb_build_object('tools', jsonb_build_array('t' || i)), '{"model": "m"}'
		FROM generate_series(1, 50) i;
	INSERT INTO agents.state (agent_id, state, version) SELECT id, jsonb_build_object('step', 1), 3 FROM agents.agents;
	INSERT INTO tasks.tasks (title, priority, assigned_agent_id, payload, labels, deadline_at)
		SELECT 'task ' || i, i % 10, (SELECT id FROM agents.agents ORDER BY name LIMIT 1), jsonb_build_object('n', i),
		       ARRAY['billing', 'team-' || (i % 3)], now() + make_interval(hours => i)
		FROM generate_series(1, 200) i;
	INSERT INTO tasks.dependencies (task_id, depends_on_task_id)
		SELECT a.id, b.id
		FROM (SELECT id, row_number() OVER (ORDER BY title) AS r FROM tasks.tasks) a
		JOIN (SELECT id, row_number() OVER (ORDER BY title) AS r FROM tasks.tasks) b ON b.r = a.r + 1
		WHERE a.r <= 50;
	SELECT messages.ensure_partitions(1);
	INSERT INTO messages.messages (conversation_id, role, content, metadata, created_at)
		SELECT gen_random_uuid(), 'user', E'hello,\\n "world" ' || i, jsonb_build_object('i', i), now() - make_interval(days => i)
		FROM generate_series(0, 299) i;
	INSERT INTO sessions.sessions (token_hash, user_id, expires_at, absolute_expires_at)
		SELECT sha256(('token' || i)::bytea), 'user' || i, now() + interval '1 hour', now() + interval '1 day'
		FROM generate_series(1, 20) i;
	INSERT INTO knowledge.documents (title, source_uri) SELECT 'doc ' || i, 'https://docs.example/' || i FROM generate_series(1, 10) i;
	INSERT INTO knowledge.chunks (document_id, ordinal, content, metadata)
		SELECT d.id, g, 'chunk text ' || g, jsonb_build_object('heading', 'heading ' || g)
		FROM knowledge.documents d, generate_series(0, 4) g;
	UPDATE tasks.tasks SET status = 'running' WHERE priority = 3;`;

export const adminUrl = () => inject('postgresAdminUrl');
export const configOf = (url: string): DatabaseConfig => resolveDatabaseConfig(url, {});

export async function pgbenchInit(database: TestDatabase, scale: number): Promise<void> {
	await execa('pgbench', ['-i', '-s', String(scale), '-q', '--foreign-keys'], {
		env: libpqEnvironment(configOf(database.url), {applicationName: 'msdb:test-pgbench'}),
		extendEnv: false,
	});
}

export async function applyAgentSchema(database: TestDatabase): Promise<void> {
	await applyMigrations({
		database: configOf(database.url),
		migrationsDir: MIGRATIONS_DIR,
		rollbacksDir: ROLLBACKS_DIR,
		lockTimeoutMs: 60_000,
		limits: DEFAULT_LIMITS,
		lockRetries: 3,
		actor: 'backup-test',
	});
	await query(database.url, AGENT_DATA_SQL);
}

export async function hashesOf(url: string): Promise<Record<string, string>> {
	const client = new pg.Client({connectionString: url});
	await client.connect();
	try {
		return await tableContentHashes(client);
	} finally {
		await client.end();
	}
}

