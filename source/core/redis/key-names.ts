/**
 * Redis key naming (documented in the README): `ms:<env>:<domain>:<id>`.
 * - `env` keeps environments apart on a shared server (MSDB_ENV, default `dev`).
 * - `domain` says which feature owns the key (`cache`, `sessions`, `state` …).
 * - Keys that must live in the same cluster slot (a session and its user's index, a value and
 *   its lease) put the shared part in a hash tag: `ms:prod:sessions:{user:42}:index`.
 */

const SAFE_PART = /^[A-Za-z0-9_.:{}@+=/-]+$/;

export type KeyNamespace = {env: string; domain: string};

/** The environment part: MSDB_ENV, else `dev`. */
export function keyEnvironment(env: NodeJS.ProcessEnv = process.env): string {
	const value = env.MSDB_ENV?.trim();
	return value && value !== '' ? value : 'dev';
}

/** `ms:<env>:<domain>:<parts…>` */
export function redisKey(namespace: KeyNamespace, ...parts: string[]): string {
	for (const part of [namespace.env, namespace.domain, ...parts]) {
		if (part === '' || !SAFE_PART.test(part)) {
			throw new TypeError(`Redis key part ${JSON.stringify(part)} is empty or has characters outside [A-Za-z0-9_.:{}@+=/-]`);
		}
	}

	return ['ms', namespace.env, namespace.domain, ...parts].join(':');
}

/** The prefix every key of a namespace starts with, for SCAN MATCH and prefix invalidation. */
export function redisKeyPrefix(namespace: KeyNamespace): string {
	return `ms:${namespace.env}:${namespace.domain}:`;
}

/** `{value}`: Redis Cluster hashes only what is inside the braces, so keys sharing it share a slot. */
export function hashTag(value: string): string {
	if (value.includes('{') || value.includes('}')) {
		throw new TypeError(`A hash tag cannot contain braces: ${JSON.stringify(value)}`);
	}

	return `{${value}}`;
}
