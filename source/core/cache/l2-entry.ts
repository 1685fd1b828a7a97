/**
 * The string format of an L2 (Redis) entry. One Redis string per cache key, either
 *
 *   a value:      V<version>|<expiresAtMs>|<tag,tag…>|<serialized value>
 *   a tombstone:  T<id>
 *
 * - `version` (digits, may be empty) lets writes compare-and-set against the PostgreSQL row
 *   version, so an older value never replaces a newer one (see cache-scripts.ts).
 * - `expiresAtMs` (epoch ms) lets an instance that reads the entry give its L1 copy no more life
 *   than the L2 entry has left, without a PTTL round trip.
 * - `tags` travel with the value so every instance that fills its L1 from L2 can evict the entry
 *   when the tag is invalidated.
 * - A tombstone replaces a value on invalidation and lives a few seconds: a load that started
 *   before the invalidation finds it changed and does not write its stale result back.
 *
 * The header is plain ASCII so the Lua scripts can read it with one `string.match`.
 */

export type L2Value = {
	kind: 'value';
	version: number | undefined;
	expiresAt: number;
	tags: readonly string[];
	payload: string;
};

export type L2Entry = L2Value | {kind: 'tombstone'; raw: string} | {kind: 'invalid'; raw: string};

const NO_TAGS: readonly string[] = Object.freeze([]);

/** The stored form of a value. */
export function encodeL2Value(payload: string, expiresAt: number, tags: readonly string[], version: number | undefined): string {
	return `V${version ?? ''}|${expiresAt}|${tags.join(',')}|${payload}`;
}

/** The stored form of a tombstone; `id` makes each one unique so a compare-and-set can tell them apart. */
export function encodeTombstone(id: string): string {
	return `T${id}`;
}

/** Parses what GET/MGET returned. Never throws: a foreign or corrupt string is `invalid`. */
export function decodeL2Entry(raw: string): L2Entry {
	const kind = raw.charCodeAt(0);
	if (kind === 84 /* T */) {
		return {kind: 'tombstone', raw};
	}

	if (kind !== 86 /* V */) {
		return {kind: 'invalid', raw};
	}

	const first = raw.indexOf('|', 1);
	const second = first === -1 ? -1 : raw.indexOf('|', first + 1);
	const third = second === -1 ? -1 : raw.indexOf('|', second + 1);
	if (third === -1) {
		return {kind: 'invalid', raw};
	}

	const versionText = raw.slice(1, first);
	const version = versionText === '' ? undefined : Number(versionText);
	const expiresAt = Number(raw.slice(first + 1, second));
	if ((version !== undefined && !Number.isSafeInteger(version)) || !Number.isFinite(expiresAt)) {
		return {kind: 'invalid', raw};
	}

	const tagsText = raw.slice(second + 1, third);
	return {
		kind: 'value',
		version,
		expiresAt,
		tags: tagsText === '' ? NO_TAGS : tagsText.split(','),
		payload: raw.slice(third + 1),
	};
}
