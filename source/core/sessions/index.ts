/**
 * The session store: server-side sessions in Redis behind opaque 256-bit tokens, stored only as
 * hashes, with sliding idle TTL, an absolute cap, throttled touch and a per-user index.
 */
export {RedisSessionStore} from './redis-session-store.js';
export type {
	CreateSessionOptions,
	GetSessionOptions,
	IssuedSession,
	Session,
	SessionData,
	SessionPatch,
	SessionStore,
	SessionSummary,
} from './session-store.js';
export {DEFAULT_ABSOLUTE_TTL_MS, DEFAULT_IDLE_TTL_MS, resolveSessionStoreOptions} from './session-store-options.js';
export type {ResolvedSessionStoreOptions, SessionStoreOptions} from './session-store-options.js';
export {hashSessionToken, isSessionId, isWellFormedSessionToken, sessionIdFromHash} from './session-token.js';
export {sessionKey, sessionNamespace, userIndexKey} from './session-keys.js';
