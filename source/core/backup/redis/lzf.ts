/**
 * LZF decompression (liblzf, as Redis uses it for strings longer than 20 bytes when
 * `rdbcompression yes`). Only key names need it: values are copied as compressed bytes into
 * DUMP payloads, which Redis decompresses itself.
 */

/**
 * Decompresses `input[start, end)` into a new buffer of exactly `length` bytes; returns
 * undefined when the data is not valid LZF of that length (a corrupt artifact).
 */
export function lzfDecompress(input: Uint8Array, start: number, end: number, length: number): Buffer | undefined {
	const output = Buffer.allocUnsafe(length);
	let inIndex = start;
	let outIndex = 0;
	while (inIndex < end) {
		const control = input[inIndex++]!;
		if (control < 32) {
			// A literal run of control + 1 bytes.
			const run = control + 1;
			if (outIndex + run > length || inIndex + run > end) {
				return undefined;
			}

			output.set(input.subarray(inIndex, inIndex + run), outIndex);
			inIndex += run;
			outIndex += run;
			continue;
		}

		// A back reference: copy `count` bytes from `distance` bytes back, overlapping allowed.
		let count = control >>> 5;
		if (count === 7) {
			if (inIndex >= end) {
				return undefined;
			}

			count += input[inIndex++]!;
		}

		if (inIndex >= end) {
			return undefined;
		}

		const reference = outIndex - ((control & 0x1f) << 8) - 1 - input[inIndex++]!;
		count += 2;
		if (reference < 0 || outIndex + count > length) {
			return undefined;
		}

		for (let copied = 0; copied < count; copied++) {
			output[outIndex++] = output[reference + copied]!;
		}
	}

	return outIndex === length ? output : undefined;
}
