/**
 * JSON with one spelling per value, so a checksum over it is reproducible by anyone: object keys
 * sorted by code point (UTF-8 byte order) at every level, no whitespace unless `indent` is
 * given, `undefined` members left out (as JSON.stringify does). Serialised by hand because
 * JavaScript objects always put integer-like keys ("3", "10") first in numeric order, whatever
 * order they were inserted in. For ASCII content the compact form equals `jq -cS .`.
 */
export function canonicalJson(value: unknown, options: {indent?: string} = {}): string {
	return write(value, options.indent ?? '', '');
}

function write(value: unknown, indent: string, depth: string): string {
	if (value === null) {
		return 'null';
	}

	switch (typeof value) {
		case 'string': {
			return JSON.stringify(value);
		}

		case 'boolean': {
			return value ? 'true' : 'false';
		}

		case 'number': {
			if (!Number.isFinite(value)) {
				throw new TypeError(`canonicalJson: ${value} has no JSON form`);
			}

			return JSON.stringify(value);
		}

		case 'object': {
			break;
		}

		default: {
			throw new TypeError(`canonicalJson: a ${typeof value} has no JSON form`);
		}
	}

	const inner = depth + indent;
	const open = indent ? `\n${inner}` : '';
	const close = indent ? `\n${depth}` : '';
	const separator = indent ? `,\n${inner}` : ',';
	if (Array.isArray(value)) {
		if (value.length === 0) {
			return '[]';
		}

		const items = value.map(item => (item === undefined ? 'null' : write(item, indent, inner)));
		return `[${open}${items.join(separator)}${close}]`;
	}

	const record = value as Record<string, unknown>;
	const keys = Object.keys(record)
		.filter(key => record[key] !== undefined)
		.sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
	if (keys.length === 0) {
		return '{}';
	}

	const colon = indent ? ': ' : ':';
	const members = keys.map(key => `${JSON.stringify(key)}${colon}${write(record[key], indent, inner)}`);
	return `{${open}${members.join(separator)}${close}}`;
}
