/**
 * Typed errors with stable codes.
 *
 * Two kinds, because the person reading the message needs to know which it is:
 * - {@link ActionableError}: the input, the environment or a server is wrong, and the message
 *   says what to do next (`nextStep`). Scripts branch on `code` and the exit code.
 * - {@link BugError}: msdb itself is wrong; there is nothing to fix on the user's side but to
 *   report it.
 *
 * Exit codes are part of the CLI contract (DESIGN.md): 0 done, 1 failed, 2 refused,
 * 3 a check found problems.
 */

export type ExitCode = 0 | 1 | 2 | 3;

export const EXIT_OK: ExitCode = 0;
export const EXIT_FAILED: ExitCode = 1;
export const EXIT_REFUSED: ExitCode = 2;
export const EXIT_PROBLEMS: ExitCode = 3;

/**
 * Every stable error code and the exit code it maps to. Codes never change meaning once
 * released; add new ones instead.
 */
export const errorCodes = {
	// Refused (2): bad arguments, bad files, unsafe or unconfirmed actions.
	E_BAD_ARGUMENT: EXIT_REFUSED,
	E_UNKNOWN_COMMAND: EXIT_REFUSED,
	E_NO_TTY: EXIT_REFUSED,
	E_CONFIG_INVALID: EXIT_REFUSED,
	E_MIGRATIONS_INVALID: EXIT_REFUSED,
	E_MIGRATION_NOT_FOUND: EXIT_REFUSED,
	E_CHECKSUM_MISMATCH: EXIT_REFUSED,
	E_APPLIED_FILE_MISSING: EXIT_REFUSED,
	E_OUT_OF_ORDER: EXIT_REFUSED,
	E_ROLLBACK_MISSING: EXIT_REFUSED,
	E_TARGET_INVALID: EXIT_REFUSED,
	E_CONFIRMATION_REQUIRED: EXIT_REFUSED,
	E_PRODUCTION_REFUSED: EXIT_REFUSED,
	E_LEDGER_NOT_EMPTY: EXIT_REFUSED,
	E_FILE_EXISTS: EXIT_REFUSED,
	// A Redis URL (REDIS_URL, REDIS_<ROLE>_URL, --redis-url) that cannot be used.
	E_REDIS_CONFIG_INVALID: EXIT_REFUSED,
	// The multi-level cache: a key/tag Redis names cannot hold, a value the serializer refuses.
	E_CACHE_KEY_INVALID: EXIT_REFUSED,
	E_CACHE_VALUE_INVALID: EXIT_REFUSED,
	// Sessions: an operator named a session id the user does not have (`msdb sessions revoke --session`).
	E_SESSION_NOT_FOUND: EXIT_REFUSED,
	// Redis backups: an RDB newer than the restore target can load; content msdb cannot replay (module
	// values, unknown formats); a restore the target cannot take (databases other than 0 on a cluster).
	E_RDB_VERSION_NEWER: EXIT_REFUSED,
	E_RDB_UNSUPPORTED: EXIT_REFUSED,
	E_REDIS_RESTORE_REFUSED: EXIT_REFUSED,
	// Backups: a bad --target / MSDB_BACKUP_TARGET or object key; an id with no manifest; a missing
	// object; a manifest that fails its checks (verify reports it as a finding, exit 3, via exitCode).
	E_BACKUP_TARGET_INVALID: EXIT_REFUSED,
	E_BACKUP_NOT_FOUND: EXIT_REFUSED,
	E_BACKUP_OBJECT_NOT_FOUND: EXIT_REFUSED,
	E_MANIFEST_INVALID: EXIT_REFUSED,
	E_BACKUP_UNVERIFIED: EXIT_REFUSED,
	// PostgreSQL backups: the local pg_dump/pg_restore cannot handle this server or archive, or is
	// missing; a restore would overwrite an existing database.
	E_PG_DUMP_TOO_OLD: EXIT_REFUSED,
	E_PG_RESTORE_TOO_OLD: EXIT_REFUSED,
	E_PG_TOOL_MISSING: EXIT_REFUSED,
	E_DATABASE_EXISTS: EXIT_REFUSED,
	// Failed (1): the work was attempted and did not complete.
	E_DATABASE_UNREACHABLE: EXIT_FAILED,
	E_LOCK_TIMEOUT: EXIT_FAILED,
	E_MIGRATION_FAILED: EXIT_FAILED,
	E_ROLLBACK_FAILED: EXIT_FAILED,
	E_RESET_FAILED: EXIT_FAILED,
	E_SQL_FAILED: EXIT_FAILED,
	E_IO: EXIT_FAILED,
	E_SERVICE_UNAVAILABLE: EXIT_FAILED,
	// Redis is down or not connected and the command was refused without waiting (bounded offline queue).
	E_REDIS_UNAVAILABLE: EXIT_FAILED,
	E_CANCELLED: EXIT_FAILED,
	// Agent state (dual store): a write that named an expected version the state no longer has; a
	// strong write committed to PostgreSQL whose Redis copy could not be brought up to date, so it
	// was not acknowledged (details.committed, details.version; the outbox relay repairs Redis).
	E_VERSION_CONFLICT: EXIT_FAILED,
	E_STATE_UNACKNOWLEDGED: EXIT_FAILED,
	E_CACHE_CLOSED: EXIT_FAILED,
	// The backup target (S3, a directory) could not be reached, read or written.
	E_BACKUP_TARGET_UNAVAILABLE: EXIT_FAILED,
	// pg_dump or pg_restore ran and failed (their stderr, redacted, is in the message).
	E_BACKUP_FAILED: EXIT_FAILED,
	E_RESTORE_FAILED: EXIT_FAILED,
	// Redis backups: the server refused SYNC/PSYNC (managed services do; dump mode works there); a
	// RESTORE was refused by the target.
	E_REDIS_SYNC_REFUSED: EXIT_FAILED,
	E_REDIS_RESTORE_FAILED: EXIT_FAILED,
	// Sagas: another coordinator took over a saga after this one's lease expired; this one stopped driving it.
	E_SAGA_LEASE_LOST: EXIT_FAILED,
	E_BUG: EXIT_FAILED,
	// A check found problems (3): a corrupt RDB or msdb-redis-dump-v1 artifact (CRC64, framing).
	E_RDB_INVALID: EXIT_PROBLEMS,
} as const satisfies Record<string, ExitCode>;

export type ErrorCode = keyof typeof errorCodes;

export type ErrorOptions = {
	/** What the user should try next; shown under the message. */
	nextStep?: string;
	/** Machine-readable context (file, version, SQLSTATE …) for `--json` output. */
	details?: Record<string, unknown>;
	cause?: unknown;
	/** Overrides the code's default exit code; rarely needed. */
	exitCode?: ExitCode;
};

export abstract class MsdbError extends Error {
	readonly code: ErrorCode;
	readonly exitCode: ExitCode;
	readonly nextStep: string | undefined;
	readonly details: Record<string, unknown>;

	protected constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
		super(message, options.cause === undefined ? undefined : {cause: options.cause});
		this.code = code;
		this.exitCode = options.exitCode ?? errorCodes[code];
		this.nextStep = options.nextStep;
		this.details = options.details ?? {};
	}

	abstract get isBug(): boolean;

	/** The JSON shape printed by `--json` when a command fails. */
	toJSON(): {code: ErrorCode; message: string; nextStep?: string; details?: Record<string, unknown>} {
		return {
			code: this.code,
			message: this.message,
			...(this.nextStep ? {nextStep: this.nextStep} : {}),
			...(Object.keys(this.details).length > 0 ? {details: this.details} : {}),
		};
	}
}

/** The user can act on this: the message names the thing and `nextStep` says what to try. */
export class ActionableError extends MsdbError {
	override readonly name = 'ActionableError';

	constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
		super(code, message, options);
	}

	get isBug(): boolean {
		return false;
	}
}

/** An internal invariant broke. Not the user's fault; they should report it. */
export class BugError extends MsdbError {
	override readonly name = 'BugError';

	constructor(message: string, options: Omit<ErrorOptions, 'exitCode'> = {}) {
		super('E_BUG', message, {
			...options,
			nextStep:
				options.nextStep ??
				'This is a bug in msdb. Please report it with the command you ran and this message.',
		});
	}

	get isBug(): boolean {
		return true;
	}
}

/** Wraps anything thrown into an MsdbError, so every output path handles one type. */
export function asMsdbError(error: unknown): MsdbError {
	if (error instanceof MsdbError) {
		return error;
	}

	const message = error instanceof Error ? error.message : String(error);
	const code = (error as {code?: unknown} | undefined)?.code;
	// A server-reported error (it has a SQLSTATE and a severity) is about the database, not msdb.
	if (typeof code === 'string' && error && typeof error === 'object' && 'severity' in error) {
		return new ActionableError('E_SQL_FAILED', `PostgreSQL refused a statement (SQLSTATE ${code}): ${message}`, {
			nextStep: 'Check the permissions of the database user and the state of the server, then try again.',
			details: {sqlState: code},
			cause: error,
		});
	}

	// Lost connections and timeouts are the network's or the server's doing.
	if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) {
		return new ActionableError('E_SERVICE_UNAVAILABLE', `Lost the connection to a server (${code}): ${message}`, {
			nextStep: 'Check the server is up and reachable, then run the command again.',
			details: {errno: code},
			cause: error,
		});
	}

	if (error instanceof Error && /Connection terminated/i.test(message)) {
		return new ActionableError('E_SERVICE_UNAVAILABLE', `Lost the connection to PostgreSQL: ${message}`, {
			nextStep: 'Check the server is up (it may have restarted or ended the session), then run the command again.',
			cause: error,
		});
	}

	return new BugError(`Unexpected error: ${message}`, {cause: error});
}

const NETWORK_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
