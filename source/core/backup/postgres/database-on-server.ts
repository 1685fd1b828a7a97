import type pg from 'pg';
import type {DatabaseConfig} from '../../config/database-config.js';
import {connectDatabase} from '../../database/connect.js';
import {redact} from '../../redact.js';
import {derivedDatabaseName} from './database-names.js';

/**
 * The same server, user and settings as `config`, but another database: restores create and
 * fill a new database, and renaming one must happen from a connection to a third.
 *
 * With a URL, only its path changes. With the libpq `PG*` variables, a URL that names only the
 * database: node-postgres (and libpq-environment.ts for the child programs) take everything
 * else from the same variables as before.
 */
export function configForDatabase(config: DatabaseConfig, database: string): DatabaseConfig {
	const encoded = `/${encodeURIComponent(database)}`;
	if (!config.connectionString) {
		const display = config.display.replace(/\/[^/]*$/, encoded);
		return {connectionString: `postgres://${encoded}`, source: config.source, display};
	}

	const url = new URL(config.connectionString);
	url.pathname = encoded;
	url.searchParams.delete('dbname');
	return {connectionString: url.toString(), source: config.source, display: redact(url.toString())};
}

/**
 * A database to connect to while renaming or dropping another one: `postgres`, or `template1`
 * when `postgres` is the one being changed (both exist on every server unless removed by hand).
 */
export function maintenanceDatabaseFor(busy: readonly string[]): string {
	return busy.includes('postgres') ? 'template1' : 'postgres';
}

/** Opens a connection to another database on the server of `config`. */
export async function connectToDatabase(config: DatabaseConfig, database: string, applicationName: string): Promise<pg.Client> {
	return connectDatabase(configForDatabase(config, database), {applicationName});
}

/**
 * `<base><suffix>`, or `<base><suffix>_2`, `_3` … when that name is taken: two drills (or
 * restores) started in the same second must not collide over a name that is only a default.
 */
export async function freeDatabaseName(client: pg.Client, base: string, suffix: string): Promise<string> {
	const candidates = [derivedDatabaseName(base, suffix), ...Array.from({length: 19}, (_, index) => derivedDatabaseName(base, `${suffix}_${index + 2}`))];
	const {rows} = await client.query<{name: string}>('SELECT datname AS name FROM pg_catalog.pg_database WHERE datname = ANY ($1)', [candidates]);
	const taken = new Set(rows.map(row => row.name));
	return candidates.find(name => !taken.has(name)) ?? derivedDatabaseName(base, `${suffix}_${Date.now()}`);
}
