/**
 * Which Redis each role talks to, resolved once from options and the environment.
 *
 * Roles exist because one deployment often splits them: sessions on a persistent primary, the
 * cache on an evicting server or a cluster, queues and pub/sub elsewhere. Each role reads
 * `REDIS_<ROLE>_URL`, else `--redis-url`, else `REDIS_URL`, else `redis://127.0.0.1:6379`.
 *
 * The URL forms (README "Redis"):
 *   redis://[user:pass@]host[:port][/db]              standalone; rediss:// for TLS
 *   redis+cluster://[user:pass@]host1:port,host2:port  Redis Cluster seed nodes; rediss+cluster:// for TLS
 *   redis+sentinel://[:pass@]host1:26379,host2:26379/<masterName>[/<db>]   Sentinel
 *
 * The URLs are parsed by hand, not with `new URL()`: WHATWG URLs cannot hold the comma-separated
 * host lists of the cluster and sentinel forms, and a password with an unencoded `@` or `/` must
 * still be recognised as a password (and masked) rather than leak into an error as a host name.
 */
import {z} from 'zod';
import {ActionableError} from '../errors.js';
import {redact, registerSecret} from '../redact.js';

/** The jobs Redis does for the framework; each can point at its own deployment. */
export const REDIS_ROLES = ['cache', 'sessions', 'queues', 'pubsub'] as const;

export type RedisRole = (typeof REDIS_ROLES)[number];

/** Where a role's URL came from, so messages can say which one to fix. */
export type RedisUrlSource = `REDIS_${Uppercase<RedisRole>}_URL` | '--redis-url' | 'REDIS_URL' | 'default';

/** host:port of one server (a standalone server, a cluster seed, a sentinel). */
export type RedisHostPort = {host: string; port: number};

type EndpointCommon = {
	/** The URL with the password masked: the only form of it that may be printed. */
	display: string;
	source: RedisUrlSource;
	/** ACL user name (Redis ≥ 6); undefined means the default user. */
	username?: string;
	/** Never print this; print `display`. Registered with the redactor when parsed. */
	password?: string;
	/** TLS to the data nodes (`rediss://`, `rediss+cluster://`). */
	tls: boolean;
};

/** One server, or a managed primary behind a single address. */
export type StandaloneEndpoint = EndpointCommon & {kind: 'standalone'; host: string; port: number; db: number};

/** A Redis Cluster, reached through any of its seed nodes (the rest are discovered). */
export type ClusterEndpoint = EndpointCommon & {kind: 'cluster'; seeds: RedisHostPort[]};

/** A primary found by asking Sentinels for `masterName`; follows failovers. */
export type SentinelEndpoint = EndpointCommon & {
	kind: 'sentinel';
	sentinels: RedisHostPort[];
	masterName: string;
	db: number;
};

/** How to reach one Redis deployment. */
export type RedisEndpoint = StandaloneEndpoint | ClusterEndpoint | SentinelEndpoint;

export type RedisEndpointKind = RedisEndpoint['kind'];

/** Every role's endpoint, plus a one-line description safe to print. */
export type RedisConfig = {
	readonly endpoints: Readonly<Record<RedisRole, RedisEndpoint>>;
	/** e.g. `redis://127.0.0.1:6379 (REDIS_URL)`, or one `role=url (source)` per role when they differ. */
	readonly display: string;
};

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The accepted forms, quoted in every error about a bad URL. */
export const REDIS_URL_FORMS = [
	'redis://[user:password@]host[:port][/db]',
	'rediss://[user:password@]host[:port][/db]  (TLS)',
	'redis+cluster://[user:password@]host1:port,host2:port  (rediss+cluster:// for TLS)',
	'redis+sentinel://[:password@]host1:26379,host2:26379/<masterName>[/<db>]',
] as const;

type Scheme = {kind: RedisEndpointKind; tls: boolean; defaultPort: number};

const SCHEMES: Record<string, Scheme> = {
	redis: {kind: 'standalone', tls: false, defaultPort: 6379},
	rediss: {kind: 'standalone', tls: true, defaultPort: 6379},
	'redis+cluster': {kind: 'cluster', tls: false, defaultPort: 6379},
	'rediss+cluster': {kind: 'cluster', tls: true, defaultPort: 6379},
	'redis+sentinel': {kind: 'sentinel', tls: false, defaultPort: 26_379},
};

// Host names, IPv4 and bracketed IPv6 literals; anything else (spaces, stray `:`) is a typo.
const hostSchema = z
	.string()
	.min(1, 'a host name is missing')
	.regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)$/, 'is not a valid host name');
const portSchema = z
	.string()
	.regex(/^\d{1,5}$/, 'is not a port number')
	.transform(Number)
	.pipe(z.number().int().min(1, 'is not a port between 1 and 65535').max(65_535, 'is not a port between 1 and 65535'));
const dbSchema = z
	.string()
	.regex(/^\d{1,5}$/, 'is not a database number')
	.transform(Number);
const masterNameSchema = z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be a master name made of [A-Za-z0-9._-]');
const environmentUrlSchema = z.string().trim();

/** Thrown inside the parser and turned into one ActionableError naming the source. */
class UrlProblem extends Error {}

/**
 * Resolves every role's endpoint. Throws `E_REDIS_CONFIG_INVALID` (exit 2) naming the variable
 * or option at fault, with the URL redacted and the accepted forms.
 */
export function resolveRedisConfig(input: {redisUrl?: string | undefined}, env: NodeJS.ProcessEnv = process.env): RedisConfig {
	const endpoints = {} as Record<RedisRole, RedisEndpoint>;
	for (const role of REDIS_ROLES) {
		const variable = `REDIS_${role.toUpperCase() as Uppercase<RedisRole>}_URL` as const;
		const roleUrl = nonEmpty(env[variable]);
		const sharedUrl = nonEmpty(env['REDIS_URL']);
		if (roleUrl !== undefined) {
			endpoints[role] = parseRedisUrl(roleUrl, variable);
		} else if (input.redisUrl !== undefined) {
			endpoints[role] = parseRedisUrl(input.redisUrl, '--redis-url');
		} else if (sharedUrl !== undefined) {
			endpoints[role] = parseRedisUrl(sharedUrl, 'REDIS_URL');
		} else {
			endpoints[role] = parseRedisUrl(DEFAULT_REDIS_URL, 'default');
		}
	}

	return {endpoints, display: describeEndpoints(endpoints)};
}

/**
 * Parses one Redis URL of any accepted form. `source` names where it came from, for the error
 * message. The password is registered with the redactor before anything can fail.
 */
export function parseRedisUrl(url: string, source: RedisUrlSource): RedisEndpoint {
	const value = url.trim();
	const display = displayUrl(value);
	try {
		return parse(value, source, display);
	} catch (error) {
		if (!(error instanceof UrlProblem)) {
			throw error;
		}

		throw new ActionableError(
			'E_REDIS_CONFIG_INVALID',
			redact(`${describeSource(source)} is not a usable Redis URL: ${error.message}. Got: ${display === '' ? '(empty)' : display}`),
			{
				nextStep: `Use one of: ${REDIS_URL_FORMS.join('; ')}. Percent-encode special characters in the password.`,
				details: {source, url: redact(display), acceptedForms: [...REDIS_URL_FORMS]},
			},
		);
	}
}

function parse(value: string, source: RedisUrlSource, display: string): RedisEndpoint {
	if (value === '') {
		throw new UrlProblem('it is empty');
	}

	const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(value);
	if (!match) {
		throw new UrlProblem('it does not start with a scheme such as redis://');
	}

	// Split first: the password gets registered with the redactor even if the scheme is wrong.
	const {username, password, rest} = splitUserInfo(match[2] ?? '');
	const schemeName = (match[1] ?? '').toLowerCase();
	const scheme = SCHEMES[schemeName];
	if (!scheme) {
		throw new UrlProblem(`the scheme ${schemeName}:// is not one of ${Object.keys(SCHEMES).map(name => `${name}://`).join(', ')}`);
	}

	if (/[?#]/.test(rest)) {
		throw new UrlProblem('query parameters and fragments are not supported');
	}

	const slash = rest.indexOf('/');
	const hostList = slash === -1 ? rest : rest.slice(0, slash);
	const pathParts = slash === -1 ? [] : rest.slice(slash + 1).split('/');
	// A trailing slash (`redis://host:6379/`) means no path, as with other URL parsers.
	if (pathParts.at(-1) === '') {
		pathParts.pop();
	}

	const hosts = parseHosts(hostList, scheme.defaultPort);
	const common = {
		display,
		source,
		tls: scheme.tls,
		...(username === undefined ? {} : {username}),
		...(password === undefined ? {} : {password}),
	};
	switch (scheme.kind) {
		case 'standalone': {
			const [host, ...others] = hosts;
			if (!host || others.length > 0) {
				throw new UrlProblem(`${schemeName}:// takes exactly one host; use redis+cluster:// or redis+sentinel:// for several`);
			}

			if (pathParts.length > 1) {
				throw new UrlProblem('the path can only be a database number, e.g. /0');
			}

			return {kind: 'standalone', ...common, host: host.host, port: host.port, db: parseDb(pathParts[0])};
		}

		case 'cluster': {
			if (pathParts.length > 1 || (pathParts[0] !== undefined && parseDb(pathParts[0]) !== 0)) {
				throw new UrlProblem('Redis Cluster has only database 0, so the URL cannot select another one');
			}

			return {kind: 'cluster', ...common, seeds: hosts};
		}

		case 'sentinel': {
			const [masterName, db, ...extra] = pathParts;
			if (masterName === undefined || extra.length > 0) {
				throw new UrlProblem('a Sentinel URL needs the master name as its path: /<masterName> or /<masterName>/<db>');
			}

			const name = masterNameSchema.safeParse(decodeComponent(masterName, 'the master name'));
			if (!name.success) {
				throw new UrlProblem(`the master name ${firstIssue(name.error)}`);
			}

			return {kind: 'sentinel', ...common, sentinels: hosts, masterName: name.data, db: parseDb(db)};
		}
	}
}

function splitUserInfo(afterScheme: string): {username?: string; password?: string; rest: string} {
	// The last `@` ends the user info, so an unencoded `@` in a password still counts as password.
	const at = afterScheme.lastIndexOf('@');
	if (at === -1) {
		return {rest: afterScheme};
	}

	const userInfo = afterScheme.slice(0, at);
	const rest = afterScheme.slice(at + 1);
	const colon = userInfo.indexOf(':');
	const rawUser = colon === -1 ? userInfo : userInfo.slice(0, colon);
	const rawPassword = colon === -1 ? undefined : userInfo.slice(colon + 1);
	// Registered before decoding can fail, so no later message can show it.
	registerSecret(rawPassword);
	const password = rawPassword === undefined || rawPassword === '' ? undefined : decodeComponent(rawPassword, 'the password');
	registerSecret(password);
	const username = rawUser === '' ? undefined : decodeComponent(rawUser, 'the user name');
	return {
		rest,
		...(username === undefined ? {} : {username}),
		...(password === undefined ? {} : {password}),
	};
}

function parseHosts(list: string, defaultPort: number): RedisHostPort[] {
	if (list === '') {
		throw new UrlProblem('a host is missing');
	}

	return list.split(',').map(item => {
		const entry = item.trim();
		// [v6]:port, [v6], host:port, host
		const match = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(entry);
		const host = hostSchema.safeParse(match?.[1] ?? entry);
		if (!match || !host.success) {
			throw new UrlProblem(`the host ${JSON.stringify(entry)} ${host.success ? 'is not host:port' : firstIssue(host.error)}`);
		}

		if (match[2] === undefined) {
			return {host: unbracket(host.data), port: defaultPort};
		}

		const port = portSchema.safeParse(match[2]);
		if (!port.success) {
			throw new UrlProblem(`the port in ${JSON.stringify(entry)} ${firstIssue(port.error)}`);
		}

		return {host: unbracket(host.data), port: port.data};
	});
}

function parseDb(part: string | undefined): number {
	if (part === undefined || part === '') {
		return 0;
	}

	const db = dbSchema.safeParse(part);
	if (!db.success) {
		throw new UrlProblem(`the database ${JSON.stringify(part)} ${firstIssue(db.error)}`);
	}

	return db.data;
}

function decodeComponent(value: string, what: string): string {
	try {
		return decodeURIComponent(value);
	} catch {
		throw new UrlProblem(`${what} has a malformed %-escape`);
	}
}

function unbracket(host: string): string {
	return host.startsWith('[') ? host.slice(1, -1) : host;
}

function firstIssue(error: z.ZodError): string {
	return error.issues[0]?.message ?? 'is not valid';
}

function nonEmpty(value: string | undefined): string | undefined {
	const parsed = environmentUrlSchema.safeParse(value);
	return parsed.success && parsed.data !== '' ? parsed.data : undefined;
}

function describeSource(source: RedisUrlSource): string {
	switch (source) {
		case '--redis-url': {
			return 'The --redis-url option';
		}

		case 'default': {
			return 'The default Redis URL';
		}

		default: {
			return `The environment variable ${source}`;
		}
	}
}

/**
 * The URL with any password replaced by `***`. Works on malformed input too (it only splits at
 * the last `@`), so error messages can quote what the user gave.
 */
export function displayUrl(url: string): string {
	const value = url.trim();
	const match = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)(.*)$/s.exec(value);
	if (!match) {
		// No scheme: whatever precedes an `@` may still be credentials.
		const at = value.lastIndexOf('@');
		return redact(at === -1 ? value : `***${value.slice(at)}`);
	}

	const [, scheme = '', afterScheme = ''] = match;
	const at = afterScheme.lastIndexOf('@');
	if (at === -1) {
		return redact(value);
	}

	const userInfo = afterScheme.slice(0, at);
	const colon = userInfo.indexOf(':');
	const user = colon === -1 ? userInfo : userInfo.slice(0, colon);
	const masked = colon === -1 ? user : `${user}:***`;
	return redact(`${scheme}${masked}@${afterScheme.slice(at + 1)}`);
}

function describeEndpoints(endpoints: Record<RedisRole, RedisEndpoint>): string {
	const labels = REDIS_ROLES.map(role => `${endpoints[role].display} (${endpoints[role].source})`);
	if (labels.every(label => label === labels[0])) {
		return labels[0] ?? '';
	}

	return REDIS_ROLES.map((role, index) => `${role}=${labels[index] ?? ''}`).join(', ');
}
