/** Longest key name quoted whole in a message; longer ones are cut, with their length given. */
const MAX_QUOTED_BYTES = 80;

/**
 * `the key "session:42"` for messages. Keys are binary-safe, so a name that is not valid UTF-8
 * is shown as hex rather than as replacement characters that could not be searched for.
 */
export function describeKey(key: Buffer): string {
	const shown = key.subarray(0, MAX_QUOTED_BYTES);
	const text = shown.toString('utf8');
	const printable = Buffer.from(text, 'utf8').equals(shown) ? JSON.stringify(text) : `0x${shown.toString('hex')}`;
	return key.length > MAX_QUOTED_BYTES ? `the key ${printable}… (${key.length} bytes)` : `the key ${printable}`;
}
