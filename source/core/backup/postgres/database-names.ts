import {ActionableError} from '../../errors.js';

/** PostgreSQL truncates identifiers beyond NAMEDATALEN - 1 bytes; a truncated name is a surprise. */
export const MAX_IDENTIFIER_BYTES = 63;

/**
 * `20250614_031500` (UTC): part of the names restores give databases. Lower case, digits and `_`
 * only, so the names need no quoting when an operator types them in psql at 3 a.m.
 */
export function nameTimestamp(at: Date): string {
	const iso = at.toISOString(); // 2025-06-14T03:15:00.000Z
	return `${iso.slice(0, 10).replaceAll('-', '')}_${iso.slice(11, 19).replaceAll(':', '')}`;
}

/**
 * `<base><suffix>`, shortening `base` (never the suffix, which carries the meaning) so the whole
 * fits in 63 bytes without splitting a UTF-8 character.
 */
export function derivedDatabaseName(base: string, suffix: string): string {
	const room = MAX_IDENTIFIER_BYTES - Buffer.byteLength(suffix);
	let shortened = base;
	while (Buffer.byteLength(shortened) > room) {
		shortened = [...shortened].slice(0, -1).join('');
	}

	return `${shortened}${suffix}`;
}

/** Refuses a database name the caller chose that PostgreSQL would truncate or cannot hold. */
export function assertDatabaseName(name: string, option: string): void {
	if (name === '' || Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES || name.includes('\u0000')) {
		throw new ActionableError('E_BAD_ARGUMENT', `${option} "${name}" is not a usable database name: it must be 1 to ${MAX_IDENTIFIER_BYTES} bytes long. Nothing was changed.`, {
			nextStep: 'Choose a shorter name, or leave it out to get <database>_restore_<timestamp>.',
			details: {name},
		});
	}
}
