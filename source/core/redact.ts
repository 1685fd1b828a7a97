/**
 * The one redaction helper every output path uses (stdout, stderr, JSON, the console, errors).
 *
 * Two layers, because neither alone is enough:
 * - patterns catch credentials in any URL or key=value string, even ones we never saw;
 * - registered secrets (passwords from the URLs we were given, PGPASSWORD, AWS keys) catch the
 *   same value when a server or library echoes it back out of context.
 */

import {isPublicSandboxCredential} from './sandbox/sandbox-credentials.js';

const MASK = '***';

/** Secrets shorter than this are not replaced verbatim: masking every "ab" would garble output. */
const MIN_VERBATIM_SECRET_LENGTH = 3;

const registeredSecrets = new Set<string>();

// scheme://user:password@host → scheme://user:***@host
const URL_USERINFO = /([a-z][a-z\d+.-]*:\/\/)([^:/?#@\s]*):([^@/?#\s]*)@/gi;
// password=…, sslpassword=…, secret=…, token=… in query strings and libpq key=value strings
const KEY_VALUE_SECRET =
	/\b(password|passwd|pwd|sslpassword|secret|secret_?access_?key|session_?token|token|x-amz-signature|x-amz-credential|x-amz-security-token)=('[^']*'|[^&\s'"]+)/gi;

/**
 * Adds a value that must never be printed. Safe to call with undefined or repeatedly. The fixed,
 * public credentials of `msdb sandbox` are never registered (see sandbox-credentials.ts).
 */
export function registerSecret(value: string | undefined | null): void {
	if (value && value.length >= MIN_VERBATIM_SECRET_LENGTH && value !== MASK && !isPublicSandboxCredential(value)) {
		registeredSecrets.add(value);
		const encoded = encodeURIComponent(value);
		if (encoded !== value) {
			registeredSecrets.add(encoded);
		}
	}
}

/** Registers the password of a URL (if any), decoded and encoded. */
export function registerUrlSecrets(url: string | undefined): void {
	if (!url) {
		return;
	}

	try {
		const parsed = new URL(url);
		if (parsed.password) {
			registerSecret(decodeURIComponent(parsed.password));
			registerSecret(parsed.password);
		}

		for (const [key, value] of parsed.searchParams) {
			if (/pass|secret|token/i.test(key)) {
				registerSecret(value);
			}
		}
	} catch {
		// Not a URL: the pattern pass in redact() still covers it.
	}
}

const SECRET_ENVIRONMENT_VARIABLES = [
	'PGPASSWORD',
	'REDIS_PASSWORD',
	'AWS_SECRET_ACCESS_KEY',
	'AWS_SESSION_TOKEN',
	'AWS_ACCESS_KEY_ID',
];
const URL_ENVIRONMENT_VARIABLES = ['DATABASE_URL', 'REDIS_URL', 'MSDB_BACKUP_TARGET', 'NATS_URL'];

/** Registers every secret the process environment could leak. Called once at CLI start. */
export function registerSecretsFromEnvironment(env: NodeJS.ProcessEnv = process.env): void {
	for (const name of SECRET_ENVIRONMENT_VARIABLES) {
		registerSecret(env[name]);
	}

	for (const name of URL_ENVIRONMENT_VARIABLES) {
		registerUrlSecrets(env[name]);
	}
}

/** Returns the text with every credential masked. */
export function redact(text: string): string {
	let result = text
		.replace(URL_USERINFO, (_match, scheme: string, user: string) => `${scheme}${user}:${MASK}@`)
		.replace(KEY_VALUE_SECRET, (_match, key: string) => `${key}=${MASK}`);
	// Longest first, so a secret that contains another is masked whole.
	const secrets = [...registeredSecrets].sort((a, b) => b.length - a.length);
	for (const secret of secrets) {
		if (result.includes(secret)) {
			result = result.split(secret).join(MASK);
		}
	}

	return result;
}

/** Redacts every string inside a JSON-like value (objects, arrays), returning a copy. */
export function redactDeep<T>(value: T): T {
	if (typeof value === 'string') {
		return redact(value) as T;
	}

	if (Array.isArray(value)) {
		return value.map(item => redactDeep(item)) as T;
	}

	if (value && typeof value === 'object' && !(value instanceof Date)) {
		const copy: Record<string, unknown> = {};
		for (const [key, item] of Object.entries(value)) {
			copy[key] = redactDeep(item);
		}

		return copy as T;
	}

	return value;
}

/** A URL fit for display: the password masked, everything else kept. */
export function redactUrl(url: string): string {
	return redact(url);
}
