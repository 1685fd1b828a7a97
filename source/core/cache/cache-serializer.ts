/**
 * How values become the strings stored in Redis (and, with `l1.values: 'copy'`, in L1).
 * JSON by default; pass another implementation (superjson, msgpack-as-base64 …) to keep types
 * JSON cannot express.
 */
export type CacheSerializer = {
	/** Turns a value into a string. Throw when the value cannot be represented. */
	serialize(value: unknown): string;
	/** The inverse of {@link CacheSerializer.serialize}. Throw when the text is not valid. */
	deserialize(text: string): unknown;
};

/**
 * JSON. Note what JSON does to values: a `Date` comes back as a string, `undefined` properties
 * vanish, `Map`/`Set` become `{}`. The cache round-trips every value through the serializer
 * before the first caller sees it, so a miss and a hit return the same shape.
 */
export const jsonSerializer: CacheSerializer = {
	serialize(value) {
		const text = JSON.stringify(value);
		if (text === undefined) {
			throw new TypeError(`JSON cannot represent a value of type ${typeof value}`);
		}

		return text;
	},
	deserialize(text) {
		return JSON.parse(text) as unknown;
	},
};
