import {ActionableError} from '../../errors.js';

/**
 * The one key grammar both targets accept, so a key that works on S3 works in a directory and
 * the other way round, and no key can reach outside the target's root: `/`-separated segments,
 * none empty, `.` or `..`, no leading `/`, no backslash (a separator on Windows), no NUL or other
 * control characters, and no `.partial-<hex>` suffix (the directory target's temp files).
 */

/** The suffix of the directory target's temp files; keys may not look like one. */
export const PARTIAL_SUFFIX_PATTERN = /\.partial-[\da-f]+$/;

/** S3's own limit on key length, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;

/** Why `key` is not a valid object key (`it has a ".." segment …`), or undefined when it is. */
export function objectKeyProblem(key: string): string | undefined {
	return keyProblem(key, false);
}

/** Throws E_BACKUP_TARGET_INVALID unless `key` names an object inside the root. */
export function assertObjectKey(key: string): void {
	const problem = keyProblem(key, false);
	if (problem) {
		throw invalidKeyError(key, problem);
	}
}

/**
 * Throws unless `prefix` is `''` (the whole root) or a key prefix whose complete segments are
 * valid. A trailing `/` is allowed, and the last segment may be partial: prefixes match keys by
 * string, as S3's do.
 */
export function assertObjectPrefix(prefix: string): void {
	if (prefix === '') {
		return;
	}

	const problem = keyProblem(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, true);
	if (problem) {
		throw invalidKeyError(prefix, problem);
	}
}

/**
 * Throws unless `prefix` is one `deletePrefix` may take: never `''`, which would empty the whole
 * target; no caller computing `<id>/` means that.
 */
export function assertDeletablePrefix(prefix: string, display: string): void {
	if (prefix === '') {
		throw new ActionableError('E_BACKUP_TARGET_INVALID', `Refusing to delete everything in ${display}: deletePrefix needs a non-empty prefix such as "<backup-id>/".`, {
			nextStep: 'This is a bug in the caller: delete backups one folder at a time.',
			details: {prefix},
		});
	}

	assertObjectPrefix(prefix);
}

function keyProblem(key: string, isPrefix: boolean): string | undefined {
	if (typeof key !== 'string' || key === '') {
		return 'it is empty';
	}

	// eslint-disable-next-line no-control-regex -- control characters are exactly what we refuse
	if (/[\u0000-\u001F\u007F]/.test(key)) {
		return 'it contains a NUL or another control character';
	}

	if (key.startsWith('/') || /^[A-Za-z]:/.test(key)) {
		return 'it is absolute; keys are relative to the target root';
	}

	if (key.includes('\\')) {
		return 'it contains a backslash; use / to separate folders';
	}

	if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
		return `it is longer than ${MAX_KEY_BYTES} bytes`;
	}

	for (const segment of key.split('/')) {
		if (segment === '') {
			return 'it has an empty path segment (// or a trailing /)';
		}

		if (segment === '..' || segment === '.') {
			return `it has a "${segment}" segment, which would leave its folder`;
		}

		if (!isPrefix && PARTIAL_SUFFIX_PATTERN.test(segment)) {
			return 'it ends like a temp file (.partial-<hex>), which targets hide';
		}
	}

	return undefined;
}

function invalidKeyError(key: string, problem: string): ActionableError {
	return new ActionableError('E_BACKUP_TARGET_INVALID', `Refusing object key ${JSON.stringify(key)}: ${problem}.`, {
		nextStep: 'Keys are relative paths inside the backup target such as "<backup-id>/postgres.dump". This is most likely a bug in the caller.',
		details: {key},
	});
}
