import type pg from 'pg';
import {quoteIdentifier} from '../../database/connect.js';

/** A table whose rows pg_dump writes: `schema.table` is how manifests and drills name it. */
export type UserTable = {schema: string; name: string; qualified: string; sql: string};

/**
 * The tables pg_dump dumps rows of: ordinary tables and partitions (relkind `r`; a partitioned
 * parent holds no rows of its own), outside the system schemas (user schemas cannot start with
 * `pg_`), and not owned by an extension (pg_dump leaves those to CREATE EXTENSION).
 */
const USER_TABLES_SQL = `
	SELECT n.nspname AS schema, c.relname AS name
	FROM pg_catalog.pg_class c
	JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind = 'r'
	  AND n.nspname <> 'information_schema'
	  AND n.nspname !~ '^pg_'
	  AND NOT EXISTS (
		SELECT 1 FROM pg_catalog.pg_depend d
		WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
	  )
	ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`;

/** Every user table of the connected database, sorted by schema then name (byte order). */
export async function listUserTables(client: pg.Client): Promise<UserTable[]> {
	const {rows} = await client.query<{schema: string; name: string}>(USER_TABLES_SQL);
	return rows.map(({schema, name}) => ({
		schema,
		name,
		qualified: `${schema}.${name}`,
		sql: `${quoteIdentifier(schema)}.${quoteIdentifier(name)}`,
	}));
}

/**
 * Exact row counts per `schema.table`, in whatever snapshot the client's transaction holds.
 * `ONLY`: a table's own rows, as pg_dump's COPY writes them (inheritance children are dumped,
 * and counted, separately).
 */
export async function countRows(client: pg.Client, tables: readonly UserTable[], signal?: AbortSignal): Promise<Record<string, number>> {
	const counts: Record<string, number> = {};
	for (const table of tables) {
		signal?.throwIfAborted();
		const {rows} = await client.query<{count: string}>(`SELECT count(*) AS count FROM ONLY ${table.sql}`);
		counts[table.qualified] = Number(rows[0]?.count ?? 0);
	}

	return counts;
}
