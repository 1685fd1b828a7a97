import {ActionableError} from '../errors.js';
import {redisKey, redisKeyPrefix, type KeyNamespace} from '../redis/key-names.js';

/**
 * Where one cache namespace lives in Redis. Every name follows the project convention
 * `ms:<env>:cache:<namespace>:<kind>:…` (key-names.ts):
 *
 *   ms:<env>:cache:<ns>:v:<key>          the L2 entry (value or tombstone, see l2-entry.ts)
 *   ms:<env>:cache:<ns>:lease:<key>      the loader lease of a cold key (SET NX PX token)
 *   ms:<env>:cache:<ns>:tag:<tag>        set of the keys written with that tag
 *   ms:<env>:cache:<ns>:seq              hash {n, epoch}: the invalidation sequence number
 *   ms:<env>:cache:<ns>:stats:<instance> an instance's last stats snapshot (JSON, expires)
 *   ms:<env>:cache:<ns>:invalidations    the pub/sub channel (a channel, not a key)
 *
 * The application's key is appended as is, so an application that wants related keys in one
 * cluster slot (for fewer MGETs) can put a hash tag in its own keys: `{tenant:7}:user:42`.
 * Value and lease keys of one cache key need not share a slot: no script touches both.
 */
export class CacheKeyspace {
	readonly env: string;
	readonly namespace: string;
	/** `ms:<env>:cache:<ns>:` */
	readonly prefix: string;
	readonly valuePrefix: string;
	readonly sequenceKey: string;
	readonly channel: string;
	readonly #keyNamespace: KeyNamespace;

	constructor(env: string, namespace: string) {
		this.#keyNamespace = {env, domain: 'cache'};
		// Validates env and namespace once, with the project-wide rules.
		this.prefix = `${redisKey(this.#keyNamespace, checkPart(namespace, 'namespace'))}:`;
		this.env = env;
		this.namespace = namespace;
		this.valuePrefix = `${this.prefix}v:`;
		this.sequenceKey = `${this.prefix}seq`;
		this.channel = `${this.prefix}invalidations`;
	}

	/** The L2 key of a cache key; throws E_CACHE_KEY_INVALID for keys Redis names must not hold. */
	value(key: string): string {
		return this.valuePrefix + checkPart(key, 'key');
	}

	/** The lease key of a cache key. */
	lease(key: string): string {
		return `${this.prefix}lease:${key}`;
	}

	/** The key-set of a tag. */
	tag(tag: string): string {
		return `${this.prefix}tag:${checkPart(tag, 'tag')}`;
	}

	/** An instance's published stats. */
	stats(instanceId: string): string {
		return `${this.prefix}stats:${instanceId}`;
	}

	/** The prefix every namespace of this environment starts with (for `msdb cache stats`). */
	static environmentPrefix(env: string): string {
		return redisKeyPrefix({env, domain: 'cache'});
	}
}

// The project's key-part rule (key-names.ts), which also keeps SCAN MATCH patterns free of glob
// characters, so prefixes never need escaping. Length-capped because every byte of a key is
// stored once per entry and sent on every read.
const KEY_PART = /^[A-Za-z0-9_.:{}@+=/-]{1,512}$/;
// A namespace is one segment of the key name (no `:`), so `msdb cache stats` can split names
// back into namespace and kind.
const NAMESPACE = /^[A-Za-z0-9_.-]{1,64}$/;

/** Checks a key, tag, namespace or prefix; `''` passes only as a prefix (the whole namespace). */
export function checkPart(value: string, what: 'key' | 'tag' | 'namespace' | 'prefix'): string {
	if (typeof value === 'string' && (what === 'namespace' ? NAMESPACE.test(value) : KEY_PART.test(value) || (what === 'prefix' && value === ''))) {
		return value;
	}

	throw new ActionableError('E_CACHE_KEY_INVALID', `Cache ${what} ${JSON.stringify(value)} is not allowed.`, {
		nextStep:
			what === 'namespace'
				? 'Use 1–64 characters from A–Z a–z 0–9 and _ . - for a namespace.'
				: 'Use 1–512 characters from A–Z a–z 0–9 and _ . : { } @ + = / - (the Redis key naming convention); hash or encode other input first.',
		details: {[what]: value},
	});
}
