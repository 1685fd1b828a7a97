/**
 * What provisioning hands back: one object per service, whatever started it.
 *
 * Callers (the test harness, `msdb sandbox`) only need a URL to connect to, where it came from
 * (to say so), and a way to stop it; the rest is for diagnostics and tests.
 */

/** Where a service came from: a URL the caller gave, a container, or a process we started. */
export type ServiceSource = 'environment' | 'docker' | 'local';

export type ServiceName = 'postgres' | 'redis' | 's3';

export type ProvisionedService = {
	readonly service: ServiceName;
	/** Connection URL. Only S3 URLs carry credentials; print it through `redact()`. */
	readonly url: string;
	readonly source: ServiceSource;
	/** One human line: what runs where (no credentials). */
	readonly description: string;
	/** Stops what we started and removes its files. Idempotent; a no-op for environment URLs. */
	stop(): Promise<void>;
};

export type ProvisionedPostgres = ProvisionedService & {
	readonly service: 'postgres';
	/** `postgres://postgres@127.0.0.1:PORT/postgres`: a superuser on the maintenance database. */
	readonly url: string;
	/** The temp directory holding PGDATA and the socket, for local servers only. */
	readonly dataDirectory?: string;
	/** Server major version when we know it (local binaries, Docker image tag). */
	readonly majorVersion?: number;
};

export type ProvisionedRedis = ProvisionedService & {
	readonly service: 'redis';
	/** `redis://127.0.0.1:PORT` */
	readonly url: string;
	/** The server's working directory (`--dir`), for local servers only. */
	readonly dataDirectory?: string;
};

export type S3Connection = {
	/** `http://host:port`, path-style addressing. */
	readonly endpoint: string;
	readonly bucket: string;
	readonly region: string;
	readonly accessKeyId: string;
	readonly secretAccessKey: string;
};

export type ProvisionedS3 = ProvisionedService &
	S3Connection & {
		readonly service: 's3';
		/** `http://ACCESS:SECRET@host:port/bucket`, the form `MSDB_TEST_S3_URL` takes. */
		readonly url: string;
		/** s3rver's storage directory, for the in-process server only. */
		readonly dataDirectory?: string;
	};

/** Builds the `http://ACCESS:SECRET@host:port/bucket` form from its parts. */
export function s3ConnectionUrl(connection: S3Connection): string {
	const url = new URL(connection.endpoint);
	url.username = encodeURIComponent(connection.accessKeyId);
	url.password = encodeURIComponent(connection.secretAccessKey);
	url.pathname = `/${encodeURIComponent(connection.bucket)}`;
	return url.toString();
}

/** Wraps a stop function so concurrent and repeated calls share one run. */
export function once(stop: () => Promise<void>): () => Promise<void> {
	let running: Promise<void> | undefined;
	return async () => {
		running ??= stop();
		return running;
	};
}
