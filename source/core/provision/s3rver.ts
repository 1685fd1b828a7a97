/**
 * s3rver, the S3 server the tests (local-s3.ts) and the sandbox (s3-server-process.ts) run.
 *
 * Why load it here, on demand: s3rver pulls in koa and winston, which nothing else needs, and it
 * ships no types, so the part of its API msdb uses is declared once.
 */
import {createRequire} from 'node:module';

/** The part of s3rver 3.7's API msdb uses. */
export type S3rverInstance = {
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
 * An s3rver on 127.0.0.1:`port` (not yet listening: call `run()`) storing objects under
 * `directory`, with `bucket` created at start. Silent: it would log every request.
 */
export function createS3rver(options: {port: number; directory: string; bucket: string}): S3rverInstance {
	const require = createRequire(import.meta.url);
	const S3rver = require('s3rver') as S3rverConstructor;
	return new S3rver({address: '127.0.0.1', port: options.port, silent: true, directory: options.directory, configureBuckets: [{name: options.bucket}]});
}
