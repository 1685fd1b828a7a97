import {ActionableError} from '../errors.js';
import {keyEnvironment} from '../redis/key-names.js';

/** Settings of a {@link RedisSessionStore}; every field has a default. */
export type SessionStoreOptions = {
	/** Sliding idle TTL, ms: a session unused this long ends. Default 30 min. */
	idleTtlMs?: number;
	/** Absolute lifetime cap, ms, counted from creation: no activity extends it. Default 12 h. */
	absoluteTtlMs?: number;
	/**
	 * The touch threshold, ms: a read or touch extends the idle TTL only when that would add
	 * more than this, i.e. once the remaining TTL has fallen below `idleTtl − touchAfter`. So a
	 * session costs at most one write per `touchAfterMs` however often it is read, and ends
	 * between `idleTtl − touchAfter` and `idleTtl` after its last use. 0 writes on every read.
	 * Default: a tenth of the idle TTL.
	 */
	touchAfterMs?: number;
	/** The `<env>` of the key names (`ms:<env>:sessions:…`). Default MSDB_ENV, else `dev`. */
	env?: string;
};

/** Options with every default filled in and checked. */
export type ResolvedSessionStoreOptions = Required<SessionStoreOptions>;

export const DEFAULT_IDLE_TTL_MS = 30 * 60 * 1000;
export const DEFAULT_ABSOLUTE_TTL_MS = 12 * 60 * 60 * 1000;

/** Fills in defaults and refuses lifetimes that cannot work (E_CONFIG_INVALID). */
export function resolveSessionStoreOptions(options: SessionStoreOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedSessionStoreOptions {
	const idleTtlMs = options.idleTtlMs ?? DEFAULT_IDLE_TTL_MS;
	const absoluteTtlMs = options.absoluteTtlMs ?? DEFAULT_ABSOLUTE_TTL_MS;
	assertLifetimes(idleTtlMs, absoluteTtlMs);
	const touchAfterMs = options.touchAfterMs ?? Math.floor(idleTtlMs / 10);
	if (!Number.isSafeInteger(touchAfterMs) || touchAfterMs < 0 || touchAfterMs >= idleTtlMs) {
		throw invalid(`touchAfterMs must be a whole number of ms from 0 to below idleTtlMs (${idleTtlMs}), got ${String(touchAfterMs)}.`);
	}

	return {idleTtlMs, absoluteTtlMs, touchAfterMs, env: options.env ?? keyEnvironment(env)};
}

/** Checks an idle TTL and absolute lifetime (store defaults or a session's own). */
export function assertLifetimes(idleTtlMs: number, absoluteTtlMs: number): void {
	for (const [name, value] of [
		['idleTtlMs', idleTtlMs],
		['absoluteTtlMs', absoluteTtlMs],
	] as const) {
		if (!Number.isSafeInteger(value) || value <= 0) {
			throw invalid(`${name} must be a positive whole number of milliseconds, got ${String(value)}.`);
		}
	}
}

function invalid(message: string): ActionableError {
	return new ActionableError('E_CONFIG_INVALID', `Session store: ${message}`, {
		nextStep: 'Fix the session store options passed by the calling service.',
	});
}
