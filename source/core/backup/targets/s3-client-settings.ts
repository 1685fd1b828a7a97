import {ActionableError} from '../../errors.js';
import {redact, registerSecret} from '../../redact.js';

/*
 * Kept apart from s3-client.ts so that parsing a target (and every directory target) does not
 * load the AWS SDK: ~100 ms of start-up a script would pay for nothing.
 */

/** How to reach S3 (or an S3-compatible server): everything but the bucket and prefix. */
export type S3ClientSettings = {
	region: string;
	/**
	 * An S3-compatible server (MinIO, Ceph, R2 …): `http(s)://host[:port]`. Absent means AWS,
	 * with virtual-hosted addressing.
	 */
	endpoint?: string;
	/** Static keys. Absent means the AWS SDK's default chain (environment, profile, SSO, IMDS …). */
	credentials?: {accessKeyId: string; secretAccessKey: string; sessionToken?: string};
	/** Attempts per request, retries included; default 3 (the SDK's). */
	maxAttempts?: number;
};

export const DEFAULT_S3_REGION = 'us-east-1';

/**
 * Reads the S3 settings from the environment: `AWS_REGION` (default us-east-1),
 * `S3_ENDPOINT` or `AWS_ENDPOINT_URL_S3` (in that order) for S3-compatible servers, and
 * `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` when both keys are set
 * (read from `env` so a caller's environment is honoured, not only the process's). Without keys,
 * the SDK's default credential chain applies (`AWS_PROFILE`, SSO, web identity, container and
 * instance roles). Keys are registered as secrets so no output path can print them.
 */
export function s3ClientSettingsFromEnvironment(env: NodeJS.ProcessEnv = process.env): S3ClientSettings {
	const settings: S3ClientSettings = {region: env['AWS_REGION']?.trim() || DEFAULT_S3_REGION};
	for (const name of ['S3_ENDPOINT', 'AWS_ENDPOINT_URL_S3'] as const) {
		const value = env[name]?.trim();
		if (value) {
			settings.endpoint = checkedEndpoint(value, name);
			break;
		}
	}

	const accessKeyId = env['AWS_ACCESS_KEY_ID']?.trim();
	const secretAccessKey = env['AWS_SECRET_ACCESS_KEY']?.trim();
	const sessionToken = env['AWS_SESSION_TOKEN']?.trim();
	registerSecret(accessKeyId);
	registerSecret(secretAccessKey);
	registerSecret(sessionToken);
	if (accessKeyId && secretAccessKey) {
		settings.credentials = {accessKeyId, secretAccessKey, ...(sessionToken ? {sessionToken} : {})};
	}

	return settings;
}

function checkedEndpoint(value: string, variable: string): string {
	let url: URL;
	try {
		url = new URL(value);
	} catch {
		throw endpointError(variable, value, 'it is not a URL');
	}

	if (url.protocol !== 'http:' && url.protocol !== 'https:') {
		throw endpointError(variable, value, `its scheme is ${url.protocol.slice(0, -1)}, not http or https`);
	}

	if (url.username || url.password) {
		// Neither the key id nor the secret is echoed: only where the URL points.
		throw endpointError(variable, `${url.protocol}//***@${url.host}`, 'it carries credentials, which belong in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or a profile)');
	}

	if (url.search || url.hash) {
		throw endpointError(variable, value, 'it has a query or fragment');
	}

	// The bucket comes from the target URL; an endpoint path would be prepended to every key.
	if (url.pathname !== '/' && url.pathname !== '') {
		throw endpointError(variable, value, 'it has a path; name the bucket in s3://bucket/prefix instead');
	}

	return url.origin;
}

function endpointError(variable: string, value: string, problem: string): ActionableError {
	// Redacted all the same: a malformed value may still hold a password= or a registered secret.
	return new ActionableError('E_BACKUP_TARGET_INVALID', `${variable}=${redact(value)} is not a usable S3 endpoint: ${problem}.`, {
		nextStep: `Set ${variable} to the server's base URL, such as http://127.0.0.1:9000 or https://s3.example.com.`,
		details: {variable},
	});
}
