/**
 * The session store contract. One implementation today ({@link RedisSessionStore}); the contract
 * test suite (test/session-store.test.ts) is written against this interface so another backend
 * would be held to the same promises.
 */

/**
 * A session's application data: a flat record of JSON values. Each key is stored and updated on
 * its own, so two requests changing different keys of one session never lose each other's write.
 */
export type SessionData = Record<string, unknown>;

/** What operators and listings see: everything but the data, and never the token. */
export type SessionSummary = {
	/** Non-secret id (a prefix of the token's sha256); what `msdb sessions` shows and revokes by. */
	id: string;
	userId: string;
	createdAt: Date;
	/** When the session ends if it is not used before then (sliding; never after `expiresAt`). */
	idleExpiresAt: Date;
	/** The absolute cap: the session ends then however active it is. */
	expiresAt: Date;
};

/** A live session, as `get` returns it. */
export type Session = SessionSummary & {data: SessionData};

/** Per-session overrides of the store's lifetimes (e.g. a longer cap for "remember me"). */
export type CreateSessionOptions = {
	/** Idle TTL of this session, ms; the store's default when omitted. */
	idleTtlMs?: number;
	/** Absolute lifetime of this session, ms; the store's default when omitted. */
	absoluteTtlMs?: number;
};

/** A token and the session it opens. The token is secret: hand it to the client, never log it. */
export type IssuedSession = {token: string; session: Session};

/**
 * Changes to a session's data: a key set to a value stores that value (null included); a key
 * set to `undefined` deletes it. Keys not named are left alone, including by concurrent updates.
 */
export type SessionPatch = Record<string, unknown>;

/** Options of {@link SessionStore.get}. */
export type GetSessionOptions = {
	/**
	 * Extend the idle TTL if it has run down past the store's threshold (default true). Pass
	 * false for reads that are not user activity (admin screens, background jobs).
	 */
	touch?: boolean;
};

/** Server-side sessions keyed by an opaque bearer token. */
export interface SessionStore {
	/**
	 * Opens a session for a user and returns its token (256 bits from the OS CSPRNG, base64url)
	 * with the session. Only the token's hash is stored. Data keys whose value is `undefined`
	 * are skipped.
	 */
	create(userId: string, data: SessionData, options?: CreateSessionOptions): Promise<IssuedSession>;

	/**
	 * The live session for a token, or undefined when the token is unknown, malformed, idle-expired
	 * or past its absolute cap. Touches (see {@link touch}) unless `options.touch` is false; the
	 * read and the touch are one atomic round trip.
	 */
	get(token: string, options?: GetSessionOptions): Promise<Session | undefined>;

	/**
	 * Records activity: extends the idle TTL (never past the absolute cap), but writes only when
	 * the remaining TTL has fallen below the threshold, so a busy session costs one write per
	 * `touchAfterMs`, not one per request. Returns false when the session is gone.
	 */
	touch(token: string): Promise<boolean>;

	/**
	 * Sets and deletes individual data keys (see {@link SessionPatch}) and counts as activity.
	 * Never recreates a session that ended. Returns false when the session is gone.
	 */
	update(token: string, patch: SessionPatch): Promise<boolean>;

	/** Ends the session. Returns false when it had already ended. */
	destroy(token: string): Promise<boolean>;

	/**
	 * Issues a new token for the same session (on login or any privilege change, against session
	 * fixation): the data, user and absolute cap carry over, the old token stops working at the
	 * same instant the data is taken, and the two are never both valid. Returns undefined when
	 * the session is gone.
	 */
	regenerate(token: string): Promise<IssuedSession | undefined>;

	/** The user's live sessions (no data, no tokens), oldest first. Reads the user's index, never SCANs. */
	listForUser(userId: string): Promise<SessionSummary[]>;

	/**
	 * Ends one of the user's sessions by its non-secret id (what operators see). Returns false
	 * when the user has no live session with that id.
	 */
	destroyById(userId: string, sessionId: string): Promise<boolean>;

	/** Ends every session of the user ("log out everywhere") and returns the ids it ended. Other users are untouched. */
	destroyAllForUser(userId: string): Promise<string[]>;

	/**
	 * How many sessions are live in this environment. An operator's figure, not a hot path: it
	 * walks the keyspace with SCAN on every primary.
	 */
	count(): Promise<number>;
}
