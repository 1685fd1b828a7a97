import getPort from 'get-port';
import {once, s3ConnectionUrl, type ProvisionedS3} from './provisioned-service.js';
import {createS3rver, type S3rverInstance} from './s3rver.js';
import {createWorkDirectory} from './work-directory.js';

export type LocalS3Options = {
	/** Created at start; default `msdb-test`. */
	bucket?: string;
};

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
	const {path: directory, remove: removeDirectory} = await createWorkDirectory('msdb-s3-');

	let server: S3rverInstance | undefined;
	let port = 0;
	try {
		for (let attempt = 1; ; attempt++) {
			port = await getPort();
			const candidate = createS3rver({port, directory, bucket});
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
