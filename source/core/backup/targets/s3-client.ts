import {S3Client} from '@aws-sdk/client-s3';
import {registerSecret} from '../../redact.js';
import type {S3ClientSettings} from './s3-client-settings.js';

/** Abandon a connect after this long: a wrong endpoint should fail in seconds, not minutes. */
const CONNECTION_TIMEOUT_MS = 10_000;
/** A socket that moves no byte for this long is dead (a stalled network), not slow. */
const SOCKET_IDLE_TIMEOUT_MS = 120_000;

/**
 * An S3 client for backups. With a custom endpoint it uses path-style addressing (MinIO and most
 * S3-compatible servers have no per-bucket host names) and sends checksums only where S3
 * requires them: several S3-compatible servers reject the SDK's newer default CRC32 trailers,
 * and every artifact carries its own sha256 in the manifest, re-checked by `verify`.
 */
export function createS3Client(settings: S3ClientSettings): S3Client {
	registerSecret(settings.credentials?.secretAccessKey);
	registerSecret(settings.credentials?.sessionToken);
	const custom = settings.endpoint !== undefined;
	return new S3Client({
		region: settings.region,
		...(custom ? {endpoint: settings.endpoint, forcePathStyle: true} : {}),
		...(settings.credentials ? {credentials: settings.credentials} : {}),
		maxAttempts: settings.maxAttempts ?? 3,
		requestChecksumCalculation: custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
		responseChecksumValidation: custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
		requestHandler: {connectionTimeout: CONNECTION_TIMEOUT_MS, socketTimeout: SOCKET_IDLE_TIMEOUT_MS},
	});
}

export {DEFAULT_S3_REGION, s3ClientSettingsFromEnvironment, type S3ClientSettings} from './s3-client-settings.js';
