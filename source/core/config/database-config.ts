import {z} from 'zod';
import {ActionableError} from '../errors.js';
import {redact, registerSecret, registerUrlSecrets} from '../redact.js';

/** Where the connection settings came from, so messages can say which one to fix. */
export type DatabaseConfigSource =
	| '--database-url'
	| 'DATABASE_URL'
	| 'PG* environment variables'
	// A pool role with its own server (source/core/pools/pool-config.ts).
	| 'DATABASE_PRIMARY_URL'
	| 'DATABASE_REPLICA_URL'
	| 'DATABASE_BACKGROUND_URL'
	| 'DATABASE_ANALYTICS_URL'
	| 'DATABASE_STREAMING_URL'
	| `overrides.${'primary' | 'replica' | 'background' | 'analytics' | 'streaming'}.url`;

/** How to reach PostgreSQL, resolved once and passed to every core function. */
export type DatabaseConfig = {
	/** Undefined when the libpq PG* variables are used: `pg` reads them itself. */
	connectionString: string | undefined;
	source: DatabaseConfigSource;
	/** Safe to print: the password is masked. */
	display: string;
};

const postgresUrl = z
	.string()
	.trim()
	.min(1, 'is empty')
	.refine(value => {
		try {
			const url = new URL(value);
			return url.protocol === 'postgres:' || url.protocol === 'postgresql:';
		} catch {
			return false;
		}
	}, 'must be a postgres:// or postgresql:// URL');

const libpqEnvironment = z.object({
	PGHOST: z.string().optional(),
	PGHOSTADDR: z.string().optional(),
	PGPORT: z
		.string()
		.regex(/^\d+$/, 'must be a port number')
		.optional(),
	PGUSER: z.string().optional(),
	PGDATABASE: z.string().optional(),
	PGPASSWORD: z.string().optional(),
});

/**
 * Resolves the database: `--database-url`, else `DATABASE_URL`, else the libpq `PG*` variables
 * (DESIGN.md, CLI contract). Every password found is registered with the redactor before
 * anything can print it.
 */
export function resolveDatabaseConfig(optionUrl: string | undefined, env: NodeJS.ProcessEnv = process.env): DatabaseConfig {
	registerSecret(env.PGPASSWORD);
	if (optionUrl !== undefined) {
		return fromUrl(optionUrl, '--database-url');
	}

	if (env.DATABASE_URL !== undefined && env.DATABASE_URL !== '') {
		return fromUrl(env.DATABASE_URL, 'DATABASE_URL');
	}

	const parsed = libpqEnvironment.safeParse(env);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		throw new ActionableError('E_CONFIG_INVALID', `${String(issue?.path[0])} ${issue?.message ?? 'is not valid'}.`, {
			nextStep: 'Fix the variable, or pass --database-url postgres://user@host:5432/database.',
		});
	}

	const {PGHOST, PGHOSTADDR, PGPORT, PGUSER, PGDATABASE} = parsed.data;
	const user = PGUSER ?? safeUserName();
	const host = PGHOST ?? PGHOSTADDR ?? 'localhost';
	const display = `postgres://${encodeURIComponent(user)}@${host.startsWith('/') ? encodeURIComponent(host) : host}:${PGPORT ?? '5432'}/${encodeURIComponent(PGDATABASE ?? user)}`;
	return {connectionString: undefined, source: 'PG* environment variables', display};
}

function fromUrl(value: string, source: '--database-url' | 'DATABASE_URL'): DatabaseConfig {
	registerUrlSecrets(value);
	const parsed = postgresUrl.safeParse(value);
	if (!parsed.success) {
		throw new ActionableError(
			'E_CONFIG_INVALID',
			`${source} ${parsed.error.issues[0]?.message ?? 'is not valid'}: ${redact(value)}`,
			{
				nextStep: 'Use the form postgres://user:password@host:5432/database (percent-encode special characters in the password).',
				details: {source},
			},
		);
	}

	return {connectionString: parsed.data, source, display: redact(parsed.data)};
}

function safeUserName(): string {
	return process.env.USER ?? process.env.LOGNAME ?? 'postgres';
}
