import {ActionableError, BugError} from '../errors.js';
import type {KeyNamespace} from '../redis/key-names.js';
import {isCluster, masterNodes, type RedisClient} from '../redis/redis-client.js';
import {SessionReadBatcher} from './session-read-batcher.js';
import {decodeData, decodeFields, encodeData, encodePatch, parseMeta} from './session-codec.js';
import {assertUserId, sessionKey, sessionKeyPattern, sessionNamespace, userIndexKey} from './session-keys.js';
import {
	claimScript,
	createScript,
	destroyScript,
	indexAddScript,
	indexReadScript,
	installScript,
	regenerateInPlaceScript,
	summaryScript,
	updateScript,
} from './session-scripts.js';
import type {
	CreateSessionOptions,
	GetSessionOptions,
	IssuedSession,
	Session,
	SessionData,
	SessionPatch,
	SessionStore,
	SessionSummary,
} from './session-store.js';
import {assertLifetimes, resolveSessionStoreOptions, type ResolvedSessionStoreOptions, type SessionStoreOptions} from './session-store-options.js';
import {generateSessionToken, hashSessionToken, isSessionId, isWellFormedSessionToken, sessionIdFromHash} from './session-token.js';

/** How often `destroyAllForUser` re-reads the index for sessions that appeared while it worked. */
const DESTROY_ALL_PASSES = 3;

const SCAN_BATCH = 1000;

/**
 * {@link SessionStore} on Redis, standalone or Cluster (key layout: session-keys.ts).
 *
 * - Hot path: `get` is one atomic read-and-touch per session in one round trip, `touch` and
 *   `update` likewise; on a standalone server the gets and touches of one tick share a few
 *   EVALSHA calls (session-read-batcher.ts).
 * - The per-user index lives in another slot than the sessions, so it is kept with separate
 *   idempotent calls, always *after* the session write: a failure in between leaves either a
 *   dangling index member (pruned when the index is next read) or a session whose token was
 *   never handed out. Never a live, handed-out session the index does not know.
 * - Remaining race, by design: a session created or regenerated in the very round trip in which
 *   `destroyAllForUser` reads the index can outlive it; a few re-reads narrow that window.
 */
export class RedisSessionStore implements SessionStore {
	/** The settings in force, defaults filled in. */
	readonly options: ResolvedSessionStoreOptions;
	readonly #client: RedisClient;
	readonly #namespace: KeyNamespace;
	/** Every get and touch; shares round trips within a tick on a standalone server (see its file). */
	readonly #reads: SessionReadBatcher;
	/** `ms:<env>:sessions:s:`, built once: key names are made on every request. */
	readonly #sessionKeyPrefix: string;

	constructor(client: RedisClient, options: SessionStoreOptions = {}) {
		this.#client = client;
		this.options = resolveSessionStoreOptions(options);
		this.#namespace = sessionNamespace(this.options.env);
		this.#reads = new SessionReadBatcher(client, this.options.touchAfterMs, !isCluster(client));
		// Built (and validated) once through redisKey; token hashes are hex, so appending is safe.
		this.#sessionKeyPrefix = sessionKey(this.#namespace, '_').slice(0, -1);
	}

	async create(userId: string, data: SessionData, options: CreateSessionOptions = {}): Promise<IssuedSession> {
		assertUserId(userId);
		const idleTtlMs = options.idleTtlMs ?? this.options.idleTtlMs;
		const absoluteTtlMs = options.absoluteTtlMs ?? this.options.absoluteTtlMs;
		assertLifetimes(idleTtlMs, absoluteTtlMs);
		if (this.options.touchAfterMs >= idleTtlMs) {
			// Touch would never extend such a session, so it would end while in use.
			throw new ActionableError('E_CONFIG_INVALID', `Session store: a session's idleTtlMs (${idleTtlMs}) must exceed the store's touchAfterMs (${this.options.touchAfterMs}).`, {
				nextStep: 'Pass a longer idleTtlMs, or give the store a smaller touchAfterMs.',
			});
		}

		const fields = encodeData(data);
		const token = generateSessionToken();
		const tokenHash = hashSessionToken(token);
		const key = this.#sessionKey(tokenHash);
		const [now, expiresAt, ttl] = asNumbers<[number, number, number]>(await createScript.run(this.#client, [key], [userId, idleTtlMs, absoluteTtlMs, ...fields]), 3);
		try {
			await indexAddScript.run(this.#client, [userIndexKey(this.#namespace, userId)], [tokenHash, expiresAt, '']);
		} catch (error) {
			// The token was never handed out, so the session is unreachable; remove it anyway.
			await this.#client.del(key).catch(() => {});
			throw error;
		}

		return {
			token,
			session: {
				id: sessionIdFromHash(tokenHash),
				userId,
				data: decodeData(fields),
				createdAt: new Date(now),
				idleExpiresAt: new Date(now + ttl),
				expiresAt: new Date(expiresAt),
			},
		};
	}

	async get(token: string, options: GetSessionOptions = {}): Promise<Session | undefined> {
		if (!isWellFormedSessionToken(token)) {
			return undefined;
		}

		const tokenHash = hashSessionToken(token);
		const key = this.#sessionKey(tokenHash);
		const read = await this.#reads.read(key, options.touch === false ? 'r' : 'g');
		return read === null ? undefined : toSession(tokenHash, read.now, read.pttl, read.fields);
	}

	async touch(token: string): Promise<boolean> {
		if (!isWellFormedSessionToken(token)) {
			return false;
		}

		return (await this.#reads.read(this.#sessionKey(hashSessionToken(token)), 't')) !== null;
	}

	async update(token: string, patch: SessionPatch): Promise<boolean> {
		if (!isWellFormedSessionToken(token)) {
			return false;
		}

		const {set, remove} = encodePatch(patch);
		const reply = await updateScript.run(this.#client, [this.#sessionKey(hashSessionToken(token))], [this.options.touchAfterMs, set.length / 2, ...set, ...remove]);
		return reply !== null;
	}

	async destroy(token: string): Promise<boolean> {
		if (!isWellFormedSessionToken(token)) {
			return false;
		}

		const tokenHash = hashSessionToken(token);
		const userId = await destroyScript.run(this.#client, [this.#sessionKey(tokenHash)], ['']);
		if (typeof userId !== 'string') {
			return false;
		}

		await this.#client.zrem(userIndexKey(this.#namespace, userId), tokenHash);
		return true;
	}

	async regenerate(token: string): Promise<IssuedSession | undefined> {
		if (!isWellFormedSessionToken(token)) {
			return undefined;
		}

		const oldHash = hashSessionToken(token);
		const newToken = generateSessionToken();
		const newHash = hashSessionToken(newToken);
		const oldKey = this.#sessionKey(oldHash);
		const newKey = this.#sessionKey(newHash);
		let now: number;
		let ttl: number;
		let fields: string[];
		if (isCluster(this.#client)) {
			// The two keys live in different slots, so no single script can hold both. Claim
			// (read + delete, atomic) then install: the old token dies at the instant its data is
			// read, and if the install is lost the session ends rather than surviving twice.
			const claimed = await claimScript.run(this.#client, [oldKey], []);
			if (claimed === null) {
				return undefined;
			}

			fields = claimed as string[];
			const installed = await installScript.run(this.#client, [newKey], fields);
			if (installed === null) {
				return undefined;
			}

			[now, ttl] = asNumbers<[number, number]>(installed, 2);
		} else {
			const reply = await regenerateInPlaceScript.run(this.#client, [oldKey, newKey], []);
			if (reply === null) {
				return undefined;
			}

			[now, ttl, fields] = reply as [number, number, string[]];
		}

		const session = toSession(newHash, now, ttl, fields);
		await indexAddScript.run(this.#client, [userIndexKey(this.#namespace, session.userId)], [newHash, session.expiresAt.getTime(), oldHash]);
		return {token: newToken, session};
	}

	async listForUser(userId: string): Promise<SessionSummary[]> {
		assertUserId(userId);
		const indexKey = userIndexKey(this.#namespace, userId);
		const members = await this.#readIndex(indexKey);
		const replies = await Promise.all(members.map(async tokenHash => summaryScript.run(this.#client, [this.#sessionKey(tokenHash)], [])));
		const live: SessionSummary[] = [];
		const stale: string[] = [];
		for (const [index, reply] of replies.entries()) {
			const tokenHash = members[index]!;
			const summary = reply === null ? undefined : toSummary(tokenHash, reply as [number, number, string]);
			if (summary && summary.userId === userId) {
				live.push(summary);
			} else {
				stale.push(tokenHash);
			}
		}

		// Lazy pruning: members whose session idle-expired or was destroyed elsewhere.
		if (stale.length > 0) {
			await this.#client.zrem(indexKey, ...stale);
		}

		return live.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id));
	}

	async destroyById(userId: string, sessionId: string): Promise<boolean> {
		assertUserId(userId);
		if (!isSessionId(sessionId)) {
			return false;
		}

		const indexKey = userIndexKey(this.#namespace, userId);
		const tokenHash = (await this.#readIndex(indexKey)).find(member => sessionIdFromHash(member) === sessionId);
		if (tokenHash === undefined) {
			return false;
		}

		const destroyed = await destroyScript.run(this.#client, [this.#sessionKey(tokenHash)], [userId]);
		await this.#client.zrem(indexKey, tokenHash);
		return destroyed !== null;
	}

	async destroyAllForUser(userId: string): Promise<string[]> {
		assertUserId(userId);
		const indexKey = userIndexKey(this.#namespace, userId);
		const seen = new Set<string>();
		const revoked: string[] = [];
		for (let pass = 0; pass < DESTROY_ALL_PASSES; pass++) {
			const members = (await this.#readIndex(indexKey)).filter(member => !seen.has(member));
			if (members.length === 0) {
				break;
			}

			// The expected user guards against an index member naming another user's session.
			const replies = await Promise.all(members.map(async tokenHash => destroyScript.run(this.#client, [this.#sessionKey(tokenHash)], [userId])));
			for (const [index, tokenHash] of members.entries()) {
				seen.add(tokenHash);
				if (replies[index] !== null) {
					revoked.push(sessionIdFromHash(tokenHash));
				}
			}

			// Only the members read: one added meanwhile must stay indexed for the next pass.
			await this.#client.zrem(indexKey, ...members);
		}

		return revoked;
	}

	async count(): Promise<number> {
		const pattern = sessionKeyPattern(this.#namespace);
		if (isCluster(this.#client)) {
			// A cluster client knows its masters only once it has loaded the slot map.
			await this.#client.ping();
		}

		let total = 0;
		for (const node of masterNodes(this.#client)) {
			let cursor = '0';
			do {
				const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_BATCH, 'TYPE', 'hash');
				cursor = next;
				total += keys.length;
			} while (cursor !== '0');
		}

		return total;
	}

	#sessionKey(tokenHash: string): string {
		return this.#sessionKeyPrefix + tokenHash;
	}

	async #readIndex(indexKey: string): Promise<string[]> {
		return (await indexReadScript.run(this.#client, [indexKey], [])) as string[];
	}
}

function toSession(tokenHash: string, now: number, pttl: number, fields: readonly string[]): Session {
	const {meta, data} = decodeFields(fields);
	return {
		id: sessionIdFromHash(tokenHash),
		userId: meta.userId,
		data,
		createdAt: new Date(meta.createdAt),
		idleExpiresAt: new Date(Math.min(now + pttl, meta.expiresAt)),
		expiresAt: new Date(meta.expiresAt),
	};
}

function toSummary(tokenHash: string, [now, pttl, rawMeta]: [number, number, string]): SessionSummary | undefined {
	const meta = parseMeta(rawMeta);
	if (!meta) {
		return undefined;
	}

	// PTTL -1 (someone PERSISTed the key by hand): only the absolute cap is left to show.
	const idleExpiresAt = pttl < 0 ? meta.expiresAt : Math.min(now + pttl, meta.expiresAt);
	return {
		id: sessionIdFromHash(tokenHash),
		userId: meta.userId,
		createdAt: new Date(meta.createdAt),
		idleExpiresAt: new Date(idleExpiresAt),
		expiresAt: new Date(meta.expiresAt),
	};
}

function asNumbers<T extends number[]>(reply: unknown, length: T['length']): T {
	if (!Array.isArray(reply) || reply.length < length || reply.slice(0, length).some(value => typeof value !== 'number')) {
		throw new BugError(`A session script returned ${JSON.stringify(reply)} where ${length} numbers were expected.`);
	}

	return reply as T;
}
