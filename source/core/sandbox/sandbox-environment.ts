import {DOCKER_SANDBOX_POSTGRES_PASSWORD, DOCKER_SANDBOX_S3_CREDENTIALS, LOCAL_SANDBOX_S3_CREDENTIALS} from './sandbox-credentials.js';
import type {SandboxBackend, SandboxServiceName} from './sandbox-state.js';

/** The bucket the sandbox creates; backups go under `backups/` in it. */
export const SANDBOX_BUCKET = 'msdb-sandbox';

export const SANDBOX_REGION = 'us-east-1';

/**
 * The variables that point msdb (and psql, redis-cli, the AWS CLI …) at the sandbox. The S3 keys
 * and PGPASSWORD are the sandbox's fixed, public credentials (sandbox-credentials.ts), nothing
 * else.
 */
export type SandboxEnvironment = {
	DATABASE_URL: string;
	REDIS_URL: string;
	MSDB_BACKUP_TARGET: string;
	S3_ENDPOINT: string;
	AWS_ACCESS_KEY_ID: string;
	AWS_SECRET_ACCESS_KEY: string;
	AWS_REGION: string;
	/** Docker only: the compose file's PostgreSQL needs a password (local binaries use trust auth). */
	PGPASSWORD?: string;
};

/** The environment for a sandbox on `backend` with these host ports. */
export function sandboxEnvironment(backend: SandboxBackend, ports: Record<SandboxServiceName, number>): SandboxEnvironment {
	const s3 = backend === 'docker' ? DOCKER_SANDBOX_S3_CREDENTIALS : LOCAL_SANDBOX_S3_CREDENTIALS;
	return {
		// No password in the URL even on Docker: every output path masks URL passwords, which
		// would make the printed line useless; PGPASSWORD carries it instead.
		DATABASE_URL: `postgres://postgres@127.0.0.1:${ports.postgres}/msdb`,
		REDIS_URL: `redis://127.0.0.1:${ports.redis}`,
		MSDB_BACKUP_TARGET: `s3://${SANDBOX_BUCKET}/backups`,
		S3_ENDPOINT: `http://127.0.0.1:${ports.s3}`,
		AWS_ACCESS_KEY_ID: s3.accessKeyId,
		AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
		AWS_REGION: SANDBOX_REGION,
		...(backend === 'docker' ? {PGPASSWORD: DOCKER_SANDBOX_POSTGRES_PASSWORD} : {}),
	};
}

/** `export NAME='value'` lines a POSIX shell can `eval`. */
export function shellExports(env: SandboxEnvironment): string[] {
	return Object.entries(env).map(([name, value]) => `export ${name}='${String(value).replaceAll("'", "'\\''")}'`);
}
