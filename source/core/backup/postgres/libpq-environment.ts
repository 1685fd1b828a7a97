import type {DatabaseConfig} from '../../config/database-config.js';
import {registerUrlSecrets} from '../../redact.js';

/**
 * The variables below say which server and database a libpq program (pg_dump, pg_restore,
 * pgbench) talks to. When a URL names one of them, the inherited value must not win.
 */
const URL_QUERY_TO_ENVIRONMENT: Record<string, string> = {
	host: 'PGHOST',
	hostaddr: 'PGHOSTADDR',
	port: 'PGPORT',
	user: 'PGUSER',
	password: 'PGPASSWORD',
	dbname: 'PGDATABASE',
	sslmode: 'PGSSLMODE',
	sslrootcert: 'PGSSLROOTCERT',
	sslcert: 'PGSSLCERT',
	sslkey: 'PGSSLKEY',
	sslcrl: 'PGSSLCRL',
	options: 'PGOPTIONS',
	connect_timeout: 'PGCONNECT_TIMEOUT',
	target_session_attrs: 'PGTARGETSESSIONATTRS',
};

/** node-postgres spellings of sslmode that libpq does not know. */
const NODE_PG_SSLMODES: Record<string, string> = {'no-verify': 'require'};

/**
 * The environment for a libpq child process (pg_dump, pg_restore) that reaches the same server,
 * user and database as `config` does through node-postgres.
 *
 * Why the environment and not a command-line connection string: a password on a command line is
 * visible to every user of the machine (`ps`, /proc/<pid>/cmdline). So the URL is taken apart
 * into `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE` …, which only the
 * child and root can read. Whatever the URL leaves out falls back to the inherited `PG*`
 * variables, exactly as node-postgres falls back to them, so both reach the same place.
 */
export function libpqEnvironment(
	config: DatabaseConfig,
	options: {applicationName: string; env?: NodeJS.ProcessEnv},
): NodeJS.ProcessEnv {
	const env: NodeJS.ProcessEnv = {...(options.env ?? process.env), PGAPPNAME: options.applicationName};
	if (config.connectionString) {
		registerUrlSecrets(config.connectionString);
		Object.assign(env, environmentFromUrl(config.connectionString));
	}

	// node-postgres defaults to TCP on localhost; libpq would try a Unix socket instead.
	if (!env.PGHOST && !env.PGHOSTADDR) {
		env.PGHOST = 'localhost';
	}

	return env;
}

/** The `PG*` variables a postgres:// URL stands for (only the parts it actually has). */
export function environmentFromUrl(connectionString: string): Record<string, string> {
	const url = new URL(connectionString);
	const result: Record<string, string> = {};
	const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
	if (hostname) {
		result.PGHOST = decodeURIComponent(hostname);
	}

	if (url.port) {
		result.PGPORT = url.port;
	}

	if (url.username) {
		result.PGUSER = decodeURIComponent(url.username);
	}

	if (url.password) {
		result.PGPASSWORD = decodeURIComponent(url.password);
	}

	const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
	if (database) {
		result.PGDATABASE = database;
	}

	for (const [key, value] of url.searchParams) {
		const name = URL_QUERY_TO_ENVIRONMENT[key];
		if (name) {
			result[name] = key === 'sslmode' ? (NODE_PG_SSLMODES[value] ?? value) : value;
		}
	}

	// node-postgres's own `ssl=true|false`, when no sslmode says more.
	const ssl = url.searchParams.get('ssl');
	if (ssl !== null && !url.searchParams.has('sslmode')) {
		result.PGSSLMODE = ssl === 'false' || ssl === '0' ? 'disable' : 'require';
	}

	return result;
}
