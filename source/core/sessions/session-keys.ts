import {redisKey, redisKeyPrefix, type KeyNamespace} from '../redis/key-names.js';

/**
 * Where sessions live in Redis (`ms:<env>:sessions:…`):
 *
 * - `ms:<env>:sessions:s:<sha256(token) hex>`: one HASH per session. The field `m` holds the
 *   metadata, `<created ms>|<absolute deadline ms>|<idle TTL ms>|<user id>`; data keys are
 *   fields `d:<key>` holding JSON, one per key, so a caller's keys can never collide with the
 *   metadata and concurrent updates of different keys never overwrite each other. The key's own
 *   TTL is the sliding idle TTL, never past the deadline.
 * - `ms:<env>:sessions:u:<user>`: a ZSET per user of that user's token hashes, scored by their
 *   absolute deadline (ms). It exists so "list / log out everywhere" never SCANs.
 *
 * Cluster slots: a lookup only knows the token, so the session key must be derivable from the
 * token alone; the user's index cannot share its slot (that would need the user id inside the
 * token). No script therefore spans a session and its index: the index is maintained with
 * separate, idempotent single-key calls and pruned lazily (see redis-session-store.ts).
 */

/** The key namespace of the session store in one environment. */
export function sessionNamespace(env: string): KeyNamespace {
	return {env, domain: 'sessions'};
}

/** The HASH holding one session, named by the token's hash. */
export function sessionKey(namespace: KeyNamespace, tokenHash: string): string {
	return redisKey(namespace, 's', tokenHash);
}

/** The SCAN pattern matching every session HASH of the namespace (for `count()` only). */
export function sessionKeyPattern(namespace: KeyNamespace): string {
	return `${redisKeyPrefix(namespace)}s:*`;
}

/** The ZSET indexing one user's sessions. */
export function userIndexKey(namespace: KeyNamespace, userId: string): string {
	return redisKey(namespace, 'u', userKeyPart(userId));
}

// Ids made of these characters (emails, UUIDs, numbers, slugs) appear in the key as they are, so
// an operator reading keys can tell whose index it is. `=` cannot start one: that marks the
// encoded form below, which keeps the two forms from ever colliding.
const PLAIN_USER_ID = /^[A-Za-z0-9_.@+-][A-Za-z0-9_.@+=-]*$/;

/** Longest user id accepted; ids are names, not documents. */
export const MAX_USER_ID_LENGTH = 512;

/**
 * The user id as a key part: itself when it is plain, else `=` + base64url of its UTF-8, so
 * colons, braces (hash tags), spaces and non-ASCII ids cannot break the key layout.
 */
export function userKeyPart(userId: string): string {
	return PLAIN_USER_ID.test(userId) ? userId : `=${Buffer.from(userId, 'utf8').toString('base64url')}`;
}

/** Throws a TypeError unless the user id is a non-empty string of at most 512 characters. */
export function assertUserId(userId: unknown): asserts userId is string {
	if (typeof userId !== 'string' || userId === '' || userId.length > MAX_USER_ID_LENGTH) {
		throw new TypeError(`A session's user id must be a non-empty string of at most ${MAX_USER_ID_LENGTH} characters.`);
	}
}
