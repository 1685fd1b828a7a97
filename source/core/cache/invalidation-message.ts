/**
 * The invalidation message on the pub/sub channel:
 *
 *   1|<epoch>|<seq>|<origin instance>|<op>|<target target …>
 *
 * `1` is the format version; `epoch` and `seq` are added by the publishing script
 * (cache-scripts.ts) so they are assigned atomically with the publish. Targets are cache keys,
 * key prefixes or tags, which can hold neither `|` nor spaces (cache-keyspace.ts). Messages
 * carry names only, never values: an instance that needs the value reads it from L2.
 */

export type InvalidationScope = 'keys' | 'prefix' | 'tags' | 'all';

export type Invalidation = {scope: InvalidationScope; targets: readonly string[]};

export type InvalidationMessage = Invalidation & {epoch: string; seq: number; origin: string};

const SCOPE_CODES: Record<InvalidationScope, string> = {keys: 'k', prefix: 'p', tags: 't', all: 'a'};
const SCOPES_BY_CODE: Record<string, InvalidationScope> = {k: 'keys', p: 'prefix', t: 'tags', a: 'all'};

/** The part the publisher supplies (the script prepends version, epoch and seq). */
export function encodeInvalidationBody(origin: string, invalidation: Invalidation): string {
	return `${origin}|${SCOPE_CODES[invalidation.scope]}|${invalidation.targets.join(' ')}`;
}

/** Parses a received message; undefined when it is not one of ours. */
export function decodeInvalidationMessage(text: string): InvalidationMessage | undefined {
	const parts = text.split('|');
	if (parts.length !== 6 || parts[0] !== '1') {
		return undefined;
	}

	const [, epoch = '', seqText = '', origin = '', code = '', targetsText = ''] = parts;
	const seq = Number(seqText);
	const scope = SCOPES_BY_CODE[code];
	if (!scope || !Number.isSafeInteger(seq) || seq < 1 || epoch === '') {
		return undefined;
	}

	return {epoch, seq, origin, scope, targets: targetsText === '' ? [] : targetsText.split(' ')};
}
