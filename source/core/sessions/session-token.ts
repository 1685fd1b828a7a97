import {hash, randomBytes} from 'node:crypto';

/**
 * Session tokens: the secret a client presents (a cookie, a bearer header). Only the client ever
 * holds one; Redis holds its sha256, so a dump, a replica, `KEYS` output or a `MONITOR` log of a
 * lookup gives nobody a live token. A plain (unkeyed) hash is enough because the token carries
 * 256 random bits: there is nothing to guess, so no pepper or slow hash is needed.
 */

/** Bytes of OS CSPRNG output in a token: 256 bits, well above OWASP's 64-bit floor. */
export const SESSION_TOKEN_BYTES = 32;

// 32 bytes in base64url without padding is always 43 characters.
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Characters of the token hash shown to operators as the session id (64 bits). */
export const SESSION_ID_LENGTH = 16;

const SESSION_ID_PATTERN = /^[0-9a-f]{16}$/;

/** A new token: 256 bits from the OS CSPRNG (crypto.randomBytes), base64url. */
export function generateSessionToken(): string {
	return randomBytes(SESSION_TOKEN_BYTES).toString('base64url');
}

/**
 * True when the text could be a token we issued. Checked before any Redis call, so a garbage or
 * hostile cookie costs no round trip and never reaches a key name.
 */
export function isWellFormedSessionToken(token: unknown): token is string {
	return typeof token === 'string' && TOKEN_PATTERN.test(token);
}

/** sha256 of the token, lower-case hex: the only form of it Redis ever sees. */
export function hashSessionToken(token: string): string {
	// The one-shot crypto.hash (Node ≥ 20.12): this runs on every request, and it is about twice
	// as fast as createHash().update().digest() for input this short.
	return hash('sha256', token, 'hex');
}

/**
 * The id operators see (CLI, logs): the first 16 hex characters of the token hash. It names a
 * session without granting it: turning it back into a token means inverting sha256.
 */
export function sessionIdFromHash(tokenHash: string): string {
	return tokenHash.slice(0, SESSION_ID_LENGTH);
}

/** True for text shaped like a session id (16 lower-case hex characters). */
export function isSessionId(value: string): boolean {
	return SESSION_ID_PATTERN.test(value);
}
