/**
 * How each PostgreSQL pool role is configured, resolved once from options and the environment.
 *
 * The primary is the database every command uses (`--database-url`, else `DATABASE_URL`, else
 * the libpq `PG*` variables). Every other role may point at its own server with
 * `DATABASE_<ROLE>_URL` (a read replica, an analytics replica, a pooler for long-lived
 * connections); without it the role shares the primary's server but keeps its own pool, so a
 * burst of analytics queries cannot take the connections request handling needs.
 *
 * Sizes and timeouts: `MSDB_POOL_<ROLE>_MAX`, `MSDB_POOL_<ROLE>_IDLE_TIMEOUT`,
 * `MSDB_POOL_<ROLE>_CONNECT_TIMEOUT` (durations such as `30s`; `0` means no limit), and
 * `MSDB_REPLICA_MAX_LAG` / `MSDB_REPLICA_CHECK_INTERVAL` for replica reads.
 */
import {resolveDatabaseConfig, type DatabaseConfig} from '../config/database-config.js';
import {DURATION_HINT, parseDuration} from '../duration.js';
import {ActionableError, MsdbError, type ErrorCode} from '../errors.js';
import {redact} from '../redact.js';
import {POOL_ROLES, type PoolRole} from './pool-stats.js';

/** One role's pool: where it connects and how big and patient it is. */
export type PoolRoleConfig = {
	role: PoolRole;
	database: DatabaseConfig;
	/** true when this role has its own URL; otherwise it shares the primary's */
	ownUrl: boolean;
	/** Largest number of connections the pool opens. */
	max: number;
	/** An idle connection is closed after this long; 0 keeps idle connections open. */
	idleTimeoutMs: number;
	/** Giving up on a connection (a new one, or a free one from a full pool) after this long; 0 waits forever. */
	connectTimeoutMs: number;
};

/** Every role's pool plus the replica-read policy. */
export type PoolsConfig = {
	roles: Record<PoolRole, PoolRoleConfig>;
	/** Replica reads go to the primary while the replica is further behind than this; 0 means no limit. */
	replicaMaxLagMs: number;
	/** The replica's lag is checked at most this often (and only while reads ask for it). */
	replicaCheckIntervalMs: number;
};

/** Per-role settings a caller (a framework service, a CLI flag) gives explicitly; they win over the environment. */
export type PoolRoleOverrides = Partial<{url: string; max: number; idleTimeoutMs: number; connectTimeoutMs: number}>;

/** What {@link resolvePoolsConfig} takes besides the environment. */
export type PoolsConfigInput = {
	/** The primary's URL (`--database-url`); else DATABASE_URL, else PG* variables. */
	databaseUrl?: string | undefined;
	overrides?: Partial<Record<PoolRole, PoolRoleOverrides>>;
	replicaMaxLagMs?: number;
	replicaCheckIntervalMs?: number;
};

/** Default pool sizes: request handling gets the most; background and analytics are capped so they cannot starve it. */
export const DEFAULT_POOL_SIZES: Readonly<Record<PoolRole, number>> = {
	primary: 10,
	replica: 10,
	background: 4,
	analytics: 4,
	streaming: 2,
};

export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_REPLICA_MAX_LAG_MS = 5000;
export const DEFAULT_REPLICA_CHECK_INTERVAL_MS = 1000;

/** PostgreSQL's own default max_connections is 100; a bigger pool is a typo, not a plan. */
const MAX_POOL_SIZE = 1000;

type RoleUrlVariable = `DATABASE_${Uppercase<PoolRole>}_URL`;

/**
 * Resolves every role's pool settings. Throws `E_CONFIG_INVALID` (exit 2) naming the variable
 * at fault and what it expects, or `E_BAD_ARGUMENT` for a bad explicit override; URLs in
 * messages are redacted.
 */
export function resolvePoolsConfig(input: PoolsConfigInput, env: NodeJS.ProcessEnv = process.env): PoolsConfig {
	const overrides = input.overrides ?? {};
	const primaryDatabase = resolveDatabaseConfig(overrides.primary?.url ?? input.databaseUrl, env);
	const roles = {} as Record<PoolRole, PoolRoleConfig>;
	for (const role of POOL_ROLES) {
		const override = overrides[role] ?? {};
		const upper = role.toUpperCase() as Uppercase<PoolRole>;
		let database = primaryDatabase;
		let ownUrl = false;
		if (role !== 'primary') {
			const variable: RoleUrlVariable = `DATABASE_${upper}_URL`;
			const url = override.url ?? nonEmpty(env[variable]);
			if (url !== undefined) {
				database = roleDatabase(url, override.url === undefined ? variable : `overrides.${role}.url`);
				ownUrl = true;
			}
		}

		roles[role] = {
			role,
			database,
			ownUrl,
			max: setting(override.max, `overrides.${role}.max`, env, `MSDB_POOL_${upper}_MAX`, parsePoolSize, DEFAULT_POOL_SIZES[role], validPoolSize),
			idleTimeoutMs: durationSetting(override.idleTimeoutMs, `overrides.${role}.idleTimeoutMs`, env, `MSDB_POOL_${upper}_IDLE_TIMEOUT`, DEFAULT_IDLE_TIMEOUT_MS),
			connectTimeoutMs: durationSetting(
				override.connectTimeoutMs,
				`overrides.${role}.connectTimeoutMs`,
				env,
				`MSDB_POOL_${upper}_CONNECT_TIMEOUT`,
				DEFAULT_CONNECT_TIMEOUT_MS,
			),
		};
	}

	return {
		roles,
		replicaMaxLagMs: durationSetting(input.replicaMaxLagMs, 'replicaMaxLagMs', env, 'MSDB_REPLICA_MAX_LAG', DEFAULT_REPLICA_MAX_LAG_MS),
		replicaCheckIntervalMs: setting(
			input.replicaCheckIntervalMs,
			'replicaCheckIntervalMs',
			env,
			'MSDB_REPLICA_CHECK_INTERVAL',
			parseDuration,
			DEFAULT_REPLICA_CHECK_INTERVAL_MS,
			// 0 would mean a lag query before every read: twice the round trips for nothing.
			value => Number.isInteger(value) && value > 0,
			'a positive duration such as 500ms or 2s',
		),
	};
}

/**
 * A role's own URL, validated as the primary's is. The source names the variable the user set,
 * so connectDatabase's messages point at it rather than at `--database-url`.
 */
function roleDatabase(url: string, source: RoleUrlVariable | `overrides.${PoolRole}.url`): DatabaseConfig {
	try {
		// resolveDatabaseConfig validates the URL and registers its password with the redactor.
		const parsed = resolveDatabaseConfig(url, {});
		return {...parsed, source};
	} catch (error) {
		if (!(error instanceof MsdbError)) {
			throw error;
		}

		const code: ErrorCode = source.startsWith('overrides.') ? 'E_BAD_ARGUMENT' : 'E_CONFIG_INVALID';
		throw new ActionableError(code, redact(`${source} must be a postgres:// or postgresql:// URL: ${url}`), {
			nextStep: `Use the form postgres://user:password@host:5432/database (percent-encode special characters in the password), or unset ${source} to share the primary's server.`,
			details: {source},
			cause: error,
		});
	}
}

function durationSetting(value: number | undefined, argument: string, env: NodeJS.ProcessEnv, variable: string, fallback: number): number {
	return setting(value, argument, env, variable, parseDuration, fallback, isDurationMs, DURATION_HINT);
}

/**
 * One setting: the explicit value, else the variable, else the default. `valid` judges both
 * forms, so a bad override is refused as loudly as a bad variable.
 */
function setting(
	value: number | undefined,
	argument: string,
	env: NodeJS.ProcessEnv,
	variable: string,
	parse: (text: string) => number | undefined,
	fallback: number,
	valid: (value: number) => boolean,
	expected = `a whole number from 1 to ${MAX_POOL_SIZE}`,
): number {
	if (value !== undefined) {
		if (!valid(value)) {
			throw new ActionableError('E_BAD_ARGUMENT', `${argument} must be ${expected}; got ${String(value)}.`, {
				details: {argument, value},
			});
		}

		return value;
	}

	const text = nonEmpty(env[variable]);
	if (text === undefined) {
		return fallback;
	}

	const parsed = parse(text);
	if (parsed === undefined || !valid(parsed)) {
		throw new ActionableError('E_CONFIG_INVALID', `${variable} must be ${expected}; got '${redact(text)}'.`, {
			nextStep: `Fix ${variable}, or unset it to use the default (${String(fallback)}${variable.endsWith('_MAX') ? '' : ' ms'}).`,
			details: {variable},
		});
	}

	return parsed;
}

function parsePoolSize(text: string): number | undefined {
	return /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
}

function validPoolSize(value: number): boolean {
	return Number.isInteger(value) && value >= 1 && value <= MAX_POOL_SIZE;
}

function isDurationMs(value: number): boolean {
	// pg's timers take a 32-bit signed delay; beyond it Node fires them at once.
	return Number.isInteger(value) && value >= 0 && value <= 2_147_483_647;
}

function nonEmpty(value: string | undefined): string | undefined {
	const trimmed = value?.trim();
	return trimmed ? trimmed : undefined;
}
