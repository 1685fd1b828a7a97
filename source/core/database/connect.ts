import pg from 'pg';
import type {DatabaseConfig} from '../config/database-config.js';
import {ActionableError} from '../errors.js';
import {redact} from '../redact.js';

export type ConnectOptions = {
	/** Shown in pg_stat_activity, so DBAs can tell msdb's sessions apart (`msdb:migrate`). */
	applicationName: string;
	connectTimeoutMs?: number;
};

/** SQLSTATEs at connection time and what the user can do about each. */
const CONNECTION_NEXT_STEPS: Record<string, string> = {
	'3D000': 'The database does not exist: create it, or fix the database name in the URL.',
	'28P01': 'Authentication failed: check the user name and password.',
	'28000': 'The server refused this user: check pg_hba.conf and the user name.',
	'53300': 'The server has no free connection slots: wait, or raise max_connections.',
	'57P03': 'The server is starting up or shutting down: try again in a moment.',
};

/**
 * Opens one connection, turning every failure into an actionable error that names the
 * (redacted) server and the setting to fix.
 */
export async function connectDatabase(config: DatabaseConfig, options: ConnectOptions): Promise<pg.Client> {
	const client = new pg.Client({
		...(config.connectionString ? {connectionString: config.connectionString} : {}),
		application_name: options.applicationName,
		connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
	});
	// An idle client whose server goes away emits 'error'; without a listener that kills the
	// process with an unhandled event instead of failing the query in flight.
	client.on('error', () => {});
	try {
		await client.connect();
	} catch (error) {
		await client.end().catch(() => {});
		const code = (error as {code?: string}).code;
		const nextStep =
			(code && CONNECTION_NEXT_STEPS[code]) ??
			`Check that PostgreSQL is running and reachable, and that ${config.source} points at it.`;
		throw new ActionableError(
			'E_DATABASE_UNREACHABLE',
			redact(`Cannot connect to PostgreSQL at ${config.display} (from ${config.source}): ${(error as Error).message}`),
			{nextStep, details: {database: config.display, ...(code ? {sqlState: code} : {})}, cause: error},
		);
	}

	return client;
}

/** Quotes an identifier for SQL (pg's own implementation). */
export function quoteIdentifier(name: string): string {
	return pg.escapeIdentifier(name);
}

/** Quotes a string literal for SQL (pg's own implementation). */
export function quoteLiteral(value: string): string {
	return pg.escapeLiteral(value);
}
