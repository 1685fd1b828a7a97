/**
 * A private s3rver a test can kill mid-request and bring back, for outage tests. `kill()` drops
 * every open connection (an upload in flight sees a reset, new ones are refused), like a crash;
 * `restart()` starts it again on the same port over the same data directory. The shared S3
 * server of the global setup cannot be killed, and startLocalS3's stop() deletes its data.
 */
import {mkdtemp, rm} from 'node:fs/promises';
import type {Server} from 'node:http';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import path from 'node:path';
import getPort from 'get-port';

type S3rverInstance = {run(): Promise<unknown>; close(): Promise<void>; httpServer?: Server};
type S3rverConstructor = new (options: {address: string; port: number; silent: boolean; directory: string; configureBuckets: Array<{name: string}>}) => S3rverInstance;

export type RestartableS3 = {
	endpoint: string;
	bucket: string;
	region: string;
	/** s3rver's fixed, public account (not a secret). */
	credentials: {accessKeyId: string; secretAccessKey: string};
	/** Where s3rver keeps objects and (under `<bucket>/._S3rver_uploads/`) unfinished multipart uploads. */
	dataDirectory: string;
	kill(): Promise<void>;
	restart(): Promise<void>;
	stop(): Promise<void>;
};

export async function startRestartableS3(bucket = 'msdb-outage'): Promise<RestartableS3> {
	const require = createRequire(import.meta.url);
	const S3rver = require('s3rver') as S3rverConstructor;
	const dataDirectory = await mkdtemp(path.join(tmpdir(), 'msdb-s3-outage-'));
	const port = await getPort();
	let server: S3rverInstance | undefined;
	const start = async () => {
		const candidate = new S3rver({address: '127.0.0.1', port, silent: true, directory: dataDirectory, configureBuckets: [{name: bucket}]});
		await candidate.run();
		server = candidate;
	};

	const kill = async () => {
		const running = server;
		server = undefined;
		if (running) {
			const closing = running.close();
			running.httpServer?.closeAllConnections();
			await closing;
		}
	};

	await start();
	return {
		endpoint: `http://127.0.0.1:${port}`,
		bucket,
		region: 'us-east-1',
		credentials: {accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER'},
		dataDirectory,
		kill,
		restart: async () => {
			await kill();
			await start();
		},
		stop: async () => {
			await kill();
			await rm(dataDirectory, {recursive: true, force: true});
		},
	};
}
