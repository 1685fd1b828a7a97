/** A 1-based line and column in a file, for error messages an editor can jump to. */
export type LineColumn = {line: number; column: number};

/** Converts a 0-based character offset into a 1-based line and column of `text`. */
export function lineColumnAt(text: string, offset: number): LineColumn {
	const clamped = Math.max(0, Math.min(offset, text.length));
	let line = 1;
	let lineStart = 0;
	for (let index = text.indexOf('\n'); index !== -1 && index < clamped; index = text.indexOf('\n', index + 1)) {
		line++;
		lineStart = index + 1;
	}

	return {line, column: clamped - lineStart + 1};
}

/**
 * Skips whitespace and comments (line and nested block comments) from `offset`, so a statement
 * is reported at its first keyword rather than at the blank line before it.
 */
export function skipWhitespaceAndComments(text: string, offset: number): number {
	let index = offset;
	while (index < text.length) {
		const char = text[index] ?? '';
		if (/\s/.test(char)) {
			index++;
		} else if (text.startsWith('--', index)) {
			const end = text.indexOf('\n', index);
			index = end === -1 ? text.length : end + 1;
		} else if (text.startsWith('/*', index)) {
			let depth = 0;
			while (index < text.length) {
				if (text.startsWith('/*', index)) {
					depth++;
					index += 2;
				} else if (text.startsWith('*/', index)) {
					depth--;
					index += 2;
					if (depth === 0) {
						break;
					}
				} else {
					index++;
				}
			}
		} else {
			break;
		}
	}

	return index;
}
