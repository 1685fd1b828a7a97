import {createHash} from 'node:crypto';

const BYTE_ORDER_MARK = '\uFEFF';

/**
 * The text msdb runs and hashes: a leading BOM stripped (editors add it; PostgreSQL rejects it)
 * and CRLF normalised to LF, so a checkout on Windows hashes the same as one on Linux.
 */
export function normaliseSql(text: string): string {
	const withoutBom = text.startsWith(BYTE_ORDER_MARK) ? text.slice(1) : text;
	return withoutBom.replace(/\r\n/g, '\n');
}

/** sha256 of the normalised text, lower-case hex (64 characters). */
export function checksumSql(text: string): string {
	return createHash('sha256').update(normaliseSql(text), 'utf8').digest('hex');
}
