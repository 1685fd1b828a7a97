/**
 * The fixed credentials of `msdb sandbox`'s services.
 *
 * They are public by design — s3rver's one built-in account, and the MinIO root user and
 * PostgreSQL password written in docker-compose.yml — and guard only a developer's local
 * services (the local ones listen on 127.0.0.1). Handing them out is the point of `msdb sandbox up`, so
 * redact.ts never treats them as secrets: masking them would turn a second
 * `eval "$(msdb sandbox up)"` (from a shell that already exported them) into
 * `AWS_SECRET_ACCESS_KEY=***`, and masking words like `msdb` or `postgres` verbatim would garble
 * every line msdb prints. Everything else msdb prints (logs, errors, descriptions) still never
 * contains them: only the environment block does.
 *
 * Dependency-free on purpose: redact.ts imports it.
 */

/** s3rver accepts only this key pair (its built-in account); any other is InvalidAccessKeyId. */
export const LOCAL_SANDBOX_S3_CREDENTIALS = {accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER'} as const;

/** MinIO's root user in docker-compose.yml (MINIO_ROOT_USER / MINIO_ROOT_PASSWORD). */
export const DOCKER_SANDBOX_S3_CREDENTIALS = {accessKeyId: 'msdb', secretAccessKey: 'msdb-secret'} as const;

/** POSTGRES_PASSWORD in docker-compose.yml; handed out as PGPASSWORD (a URL password would be masked). */
export const DOCKER_SANDBOX_POSTGRES_PASSWORD = 'postgres';

const PUBLIC_SANDBOX_CREDENTIALS: ReadonlySet<string> = new Set([
	LOCAL_SANDBOX_S3_CREDENTIALS.accessKeyId,
	LOCAL_SANDBOX_S3_CREDENTIALS.secretAccessKey,
	DOCKER_SANDBOX_S3_CREDENTIALS.accessKeyId,
	DOCKER_SANDBOX_S3_CREDENTIALS.secretAccessKey,
	DOCKER_SANDBOX_POSTGRES_PASSWORD,
]);

/** True for the sandbox's fixed, public credentials, which redaction leaves alone. */
export function isPublicSandboxCredential(value: string): boolean {
	return PUBLIC_SANDBOX_CREDENTIALS.has(value);
}
