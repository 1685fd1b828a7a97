import pg from 'pg';

export type SqlValue = string | number | boolean | Date | null | undefined | {json: unknown};

/**
 * A value as an SQL literal, for statements that must travel in one simple-protocol message
 * together with others (a ledger insert with its COMMIT): parameters would force the extended
 * protocol, one statement per message, and a round trip each.
 */
export function sqlLiteral(value: SqlValue): string {
	if (value === null || value === undefined) {
		return 'NULL';
	}

	if (typeof value === 'number') {
		if (!Number.isFinite(value)) {
			throw new TypeError(`Not a finite number: ${value}`);
		}

		return String(value);
	}

	if (typeof value === 'boolean') {
		return value ? 'true' : 'false';
	}

	if (value instanceof Date) {
		return `${pg.escapeLiteral(value.toISOString())}::timestamptz`;
	}

	if (typeof value === 'object') {
		return `${pg.escapeLiteral(JSON.stringify(value.json))}::jsonb`;
	}

	return pg.escapeLiteral(value);
}

/** `(lit1, lit2, …)` */
export function sqlValues(values: SqlValue[]): string {
	return `(${values.map(value => sqlLiteral(value)).join(', ')})`;
}
