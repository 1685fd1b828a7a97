import {ActionableError} from '../errors.js';
import {redact, registerUrlSecrets} from '../redact.js';
import {
	s3ConnectionUrl,
	type ProvisionedPostgres,
	type ProvisionedRedis,
	type ProvisionedS3,
} from './provisioned-service.js';

const DEFAULT_S3_REGION = 'us-east-1';

function parseUrl(url: string, what: string, protocols: readonly string[], example: string): URL {
	// Register first: even an invalid URL may hold a password we must not print later.
	registerUrlSecrets(url);
	let parsed: URL;
	try {
		parsed = new URL(url);
	} catch {
		throw new ActionableError('E_CONFIG_INVALID', redact(`The ${what} URL is not a valid URL: ${url}`), {
			nextStep: `Use the form ${example}.`,
		});
	}

	if (!protocols.includes(parsed.protocol)) {
		throw new ActionableError(
			'E_CONFIG_INVALID',
			redact(`The ${what} URL must start with ${protocols.map(p => `${p}//`).join(' or ')}: ${url}`),
			{nextStep: `Use the form ${example}.`},
		);
	}

	return parsed;
}

function hostOf(url: URL): string {
	return url.port ? `${url.hostname}:${url.port}` : url.hostname;
}

/** A PostgreSQL server the caller already runs: used as is, nothing to start or stop. */
export function postgresFromUrl(url: string): ProvisionedPostgres {
	const parsed = parseUrl(url, 'PostgreSQL', ['postgres:', 'postgresql:'], 'postgres://user:password@host:5432/postgres');
	return {
		service: 'postgres',
		url,
		source: 'environment',
		description: `PostgreSQL at ${hostOf(parsed)} (given URL)`,
		stop: async () => {},
	};
}

/** A Redis server the caller already runs: used as is, nothing to start or stop. */
export function redisFromUrl(url: string): ProvisionedRedis {
	const parsed = parseUrl(url, 'Redis', ['redis:', 'rediss:'], 'redis://host:6379');
	return {
		service: 'redis',
		url,
		source: 'environment',
		description: `Redis at ${hostOf(parsed)} (given URL)`,
		stop: async () => {},
	};
}

/**
 * An S3-compatible server the caller already runs, given as `http://ACCESS:SECRET@host:port/bucket`
 * (`?region=…` optional). `bucket` is the fallback when the URL has no path.
 */
export function s3FromUrl(url: string, bucket?: string): ProvisionedS3 {
	const example = 'http://ACCESS_KEY:SECRET_KEY@host:9000/bucket';
	const parsed = parseUrl(url, 'S3', ['http:', 'https:'], example);
	const bucketFromPath = decodeURIComponent(parsed.pathname.split('/').find(Boolean) ?? '');
	const resolvedBucket = bucketFromPath || bucket;
	if (!parsed.username || !parsed.password || !resolvedBucket) {
		throw new ActionableError(
			'E_CONFIG_INVALID',
			redact(`The S3 URL needs an access key, a secret key and a bucket: ${url}`),
			{nextStep: `Use the form ${example}.`},
		);
	}

	const connection = {
		endpoint: parsed.origin,
		bucket: resolvedBucket,
		region: parsed.searchParams.get('region') ?? DEFAULT_S3_REGION,
		accessKeyId: decodeURIComponent(parsed.username),
		secretAccessKey: decodeURIComponent(parsed.password),
	};
	return {
		service: 's3',
		...connection,
		// Reused as given when complete, so the caller sees the URL they passed.
		url: bucketFromPath ? url : s3ConnectionUrl(connection),
		source: 'environment',
		description: `S3 at ${parsed.origin}, bucket ${resolvedBucket} (given URL)`,
		stop: async () => {},
	};
}
