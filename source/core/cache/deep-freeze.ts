/**
 * Freezes a value and everything reachable from it through own enumerable properties, so a
 * caller that mutates a cached value gets a TypeError (strict mode) instead of silently changing
 * what every other caller of the same key will read. Covers what deserializers produce: plain
 * objects and arrays. `Object.freeze` does not stop `Map#set` or `Date#setTime`; values with
 * such internals need `l1.values: 'copy'`.
 */
export function deepFreeze<T>(value: T): T {
	if (value === null || typeof value !== 'object' || Object.isFrozen(value)) {
		return value;
	}

	Object.freeze(value);
	if (Array.isArray(value)) {
		for (const item of value) {
			deepFreeze(item);
		}
	} else {
		for (const key of Object.keys(value)) {
			deepFreeze((value as Record<string, unknown>)[key]);
		}
	}

	return value;
}
