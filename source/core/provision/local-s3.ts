import {rmSync} from 'node:fs';
import {mkdtemp, rm} from 'node:fs/promises';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import {registerExitCleanup} from './exit-cleanup.js';
import {once, s3ConnectionUrl, type ProvisionedS3} from './provisioned-service.js';

export type LocalS3Options = {
	/** Created at start; default `msdb-test`. */
	bucket?: string;
};

/** The part of s3rver 3.7's API we use (the package ships no types). */
type S3rverInstance = {
	run(): Promise<{address: string; port: number}>;
	close(): Promise<void>;
};
type S3rverConstructor = new (options: {
	address: string;
	port: number;
	silent: boolean;
	directory: string;
	configureBuckets: Array<{name: string}>;
}) => S3rverInstance;

/**
 * s3rver only knows this account; any other key pair is rejected as InvalidAccessKeyId. Public,
 * fixed values: not registered as secrets (masking "S3RVER" everywhere would only garble output).
 */
const S3RVER_CREDENTIALS = {accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER'};
const PORT_ATTEMPTS = 3;

export const DEFAULT_TEST_BUCKET = 'msdb-test';

/**
 * Starts s3rver inside this process on a free port of 127.0.0.1, storing objects in a fresh temp
 * directory, with one bucket created. Path-style addressing; region `us-east-1`. s3rver checks
 * the access key but not SigV4 signatures. `stop()` closes it and deletes the directory.
 */
export async function startLocalS3(options: LocalS3Options = {}): Promise<ProvisionedS3> {
	const bucket = options.bucket ?? DEFAULT_TEST_BUCKET;
	// Loaded on demand: s3rver pulls in koa and winston, which nothing else needs.
	const require = createRequire(import.meta.url);
	const S3rver = require('s3rver') as S3rverConstructor;
	const directory = await mkdtemp(path.join(tmpdir(), 'msdb-s3-'));
	const unregisterDirectoryCleanup = registerExitCleanup(() => rmSync(directory, {recursive: true, force: true}));
	const removeDirectory = async () => {
		unregisterDirectoryCleanup();
		await rm(directory, {recursive: true, force: true});
	};

	let server: S3rverInstance | undefined;
	let port = 0;
	try {
		for (let attempt = 1; ; attempt++) {
			port = await getPort();
			const candidate = new S3rver({
				address: '127.0.0.1',
				port,
				silent: true,
				directory,
				configureBuckets: [{name: bucket}],
			});
			try {
				await candidate.run();
				server = candidate;
				break;
			} catch (error) {
				// get-port only says a port was free a moment ago.
				const portTaken = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
				if (!portTaken || attempt >= PORT_ATTEMPTS) {
					throw error;
				}
			}
		}
	} catch (error) {
		await removeDirectory();
		throw error;
	}

	const running = server;
	const connection = {endpoint: `http://127.0.0.1:${port}`, bucket, region: 'us-east-1', ...S3RVER_CREDENTIALS};
	return {
		service: 's3',
		...connection,
		url: s3ConnectionUrl(connection),
		source: 'local',
		description: `s3rver (in-process) on 127.0.0.1:${port}, bucket ${bucket}, data in ${directory}`,
		dataDirectory: directory,
		stop: once(async () => {
			await running.close();
			await removeDirectory();
		}),
	};
}
