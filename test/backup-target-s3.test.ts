/**
 * S3Target beyond the shared contract: what goes over the wire (multipart parts, aborts), a
 * server killed in the middle of an upload, and credentials kept out of errors.
 *
 * The commands are observed with a middleware on the real client (the requests still go to a
 * real server). s3rver implements neither AbortMultipartUpload (405 MethodNotAllowed) nor
 * ListMultipartUploads (501 NotImplemented), so against it "no unfinished upload remains" can
 * only be shown as "the abort was sent, for the right upload id, before and after the restart";
 * where the server answers the abort, the test checks the server's own list instead.
 */
import {ListMultipartUploadsCommand, type S3Client} from '@aws-sdk/client-s3';
import {randomBytes} from 'node:crypto';
import {inspect} from 'node:util';
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest';
import {createS3Client} from '../source/core/backup/targets/s3-client.js';
import {MIN_PART_SIZE_BYTES, S3Target} from '../source/core/backup/targets/s3-target.js';
import {MsdbError} from '../source/core/errors.js';
import {redact} from '../source/core/redact.js';
import {generatedStream, hashStream, MiB} from './support/generated-stream.js';
import {startRestartableS3, type RestartableS3} from './support/restartable-s3.js';

type Recorded = {command: string; key?: string; uploadId?: string; outcome: string};

/** Records every command the client sends and how it ended (`ok` or the error's name/code). */
function recordCommands(client: S3Client): Recorded[] {
	const log: Recorded[] = [];
	client.middlewareStack.add(
		(next, context) => async args => {
			const input = args.input as {Key?: string; UploadId?: string};
			const entry: Recorded = {command: context.commandName ?? '?', outcome: 'pending', ...(input.Key ? {key: input.Key} : {}), ...(input.UploadId ? {uploadId: input.UploadId} : {})};
			log.push(entry);
			try {
				const result = await next(args);
				const uploadId = (result.output as {UploadId?: string}).UploadId;
				entry.outcome = 'ok';
				entry.uploadId ??= uploadId;
				return result;
			} catch (error) {
				const {name, code} = error as {name?: string; code?: string};
				entry.outcome = name && name !== 'Error' ? name : (code ?? 'Error');
				throw error;
			}
		},
		{step: 'initialize', name: 'msdbTestCommandRecorder'},
	);
	return log;
}

const ID = '20250102T030405Z-0a1b2c';

describe('S3Target on the wire', () => {
	it('streams a large artifact as a multipart upload of fixed-size parts', async () => {
		const s3 = inject('s3');
		const client = createS3Client({region: s3.region, endpoint: s3.endpoint, credentials: {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey}});
		const log = recordCommands(client);
		const target = new S3Target({client, bucket: s3.bucket, prefix: `wire/${randomBytes(4).toString('hex')}`, partSizeBytes: MIN_PART_SIZE_BYTES});
		const source = generatedStream(3 * MIN_PART_SIZE_BYTES + 100);
		const stored = await target.put(`${ID}/postgres.dump`, source.stream);

		expect(stored.sha256).toBe(source.emitted().sha256);
		const commands = log.map(entry => entry.command);
		expect(commands.filter(name => name === 'CreateMultipartUploadCommand')).toHaveLength(1);
		expect(commands.filter(name => name === 'UploadPartCommand')).toHaveLength(4);
		expect(commands.at(-1)).toBe('CompleteMultipartUploadCommand');
		expect(commands).not.toContain('AbortMultipartUploadCommand');

		// A body smaller than one part is a single PutObject: no multipart upload to leave behind.
		log.length = 0;
		await target.put(`${ID}/small`, generatedStream(100_000).stream);
		expect(log.map(entry => entry.command)).toEqual(['PutObjectCommand']);
	});

	it('aborts the multipart upload before rejecting when the body fails', async () => {
		const s3 = inject('s3');
		const client = createS3Client({region: s3.region, endpoint: s3.endpoint, credentials: {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey}});
		const log = recordCommands(client);
		const target = new S3Target({client, bucket: s3.bucket, prefix: `wire/${randomBytes(4).toString('hex')}`, partSizeBytes: MIN_PART_SIZE_BYTES});
		await expect(target.put(`${ID}/redis.rdb`, generatedStream(30 * MiB, {failAfterBytes: 12 * MiB}).stream)).rejects.toThrow('the producer died');

		const created = log.find(entry => entry.command === 'CreateMultipartUploadCommand');
		expect(created?.outcome).toBe('ok');
		expect(log.filter(entry => entry.command === 'UploadPartCommand').length).toBeGreaterThanOrEqual(2);
		const aborts = log.filter(entry => entry.command === 'AbortMultipartUploadCommand');
		expect(aborts).toHaveLength(1);
		expect(aborts[0]).toMatchObject({uploadId: created?.uploadId, key: created?.key});
		// Every request had settled when put rejected: nothing of this upload is still in flight.
		expect(log.filter(entry => entry.outcome === 'pending')).toEqual([]);
		expect(log.filter(entry => entry.command === 'CompleteMultipartUploadCommand')).toEqual([]);
		expect(await target.exists(`${ID}/redis.rdb`)).toBe(false);
	});

	it('keeps credentials out of errors, even when the server echoes the access key', async () => {
		const s3 = inject('s3');
		const accessKeyId = 'AKIAMSDBTESTKEY0042';
		const secretAccessKey = 'msdb-test-secret-do-not-print-7f3a';
		const client = createS3Client({region: s3.region, endpoint: s3.endpoint, credentials: {accessKeyId, secretAccessKey}});
		const target = new S3Target({client, bucket: s3.bucket, prefix: 'denied', endpoint: s3.endpoint});
		const failures: unknown[] = [];
		for (const attempt of [
			async () => target.putBytes(`${ID}/manifest.json`, '{}'),
			async () => target.put(`${ID}/postgres.dump`, generatedStream(MiB).stream),
			async () => target.getBytes(`${ID}/manifest.json`),
			async () => target.list(''),
		]) {
			failures.push(await attempt().then(() => undefined, (error: unknown) => error));
		}

		for (const error of failures) {
			expect(error).toBeInstanceOf(MsdbError);
			const everything = [String(error), JSON.stringify((error as MsdbError).toJSON()), inspect(error, {depth: 20, showHidden: true}), (error as Error).stack].join('\n');
			expect(everything).not.toContain(secretAccessKey);
			expect(everything).not.toContain(accessKeyId);
			expect((error as MsdbError).code).toBe('E_BACKUP_TARGET_UNAVAILABLE');
			expect((error as MsdbError).message).toMatch(/InvalidAccessKeyId|AccessDenied|refused/);
			expect((error as MsdbError).nextStep).toContain('AWS_ACCESS_KEY_ID');
		}

		// The secret is registered, so any output path that redacts masks it.
		expect(redact(`echo ${secretAccessKey}`)).toBe('echo ***');
	});

	it('names a bucket that does not exist', async () => {
		const s3 = inject('s3');
		const client = createS3Client({region: s3.region, endpoint: s3.endpoint, credentials: {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey}});
		const target = new S3Target({client, bucket: 'msdb-no-such-bucket', prefix: 'x', endpoint: s3.endpoint});
		await expect(target.list('')).rejects.toMatchObject({code: 'E_BACKUP_TARGET_INVALID', message: expect.stringContaining('The bucket msdb-no-such-bucket does not exist')});
		await expect(target.putBytes(`${ID}/manifest.json`, '{}')).rejects.toMatchObject({code: 'E_BACKUP_TARGET_INVALID'});
	});
});

describe('S3Target when the server dies mid-upload', () => {
	let server: RestartableS3;
	beforeAll(async () => {
		server = await startRestartableS3();
	});
	afterAll(async () => {
		await server?.stop();
	});

	it('rejects, leaves no object, aborts the upload (again after the restart), and the next upload succeeds', async () => {
		const client = createS3Client({region: server.region, endpoint: server.endpoint, credentials: server.credentials});
		const log = recordCommands(client);
		const target = new S3Target({client, bucket: server.bucket, prefix: 'prod', endpoint: server.endpoint, partSizeBytes: MIN_PART_SIZE_BYTES});
		const key = `${ID}/postgres.dump`;
		let killed = false;
		const source = generatedStream(60 * MiB, {
			// Once a part is stored and more are on their way, the server dies.
			beforeChunk: async emitted => {
				if (killed || emitted < 3 * MIN_PART_SIZE_BYTES) {
					return;
				}

				while (!log.some(entry => entry.command === 'UploadPartCommand' && entry.outcome === 'ok')) {
					await new Promise(resolve => setTimeout(resolve, 5));
				}

				killed = true;
				await server.kill();
			},
		});

		const failure = await target.put(key, source.stream).then(
			() => undefined,
			(error: unknown) => error as MsdbError,
		);
		expect(killed).toBe(true);
		expect(failure).toMatchObject({code: 'E_BACKUP_TARGET_UNAVAILABLE', exitCode: 1, details: expect.objectContaining({key, abortPending: true})});
		expect(failure?.message).toContain(key);
		expect(failure?.message).toContain(server.endpoint);
		expect(inspect(failure, {depth: 20})).not.toContain(server.credentials.secretAccessKey);
		// The body is not read any further once the upload has failed.
		expect(source.stream.destroyed).toBe(true);

		const created = log.find(entry => entry.command === 'CreateMultipartUploadCommand');
		const uploadId = created?.uploadId;
		expect(uploadId).toBeTruthy();
		const abortsWhileDown = log.filter(entry => entry.command === 'AbortMultipartUploadCommand' && entry.uploadId === uploadId);
		expect(abortsWhileDown.length).toBe(1);
		expect(abortsWhileDown[0]?.outcome).toMatch(/ECONNREFUSED|ECONNRESET|TimeoutError/);

		await server.restart();
		expect(await target.exists(key)).toBe(false);
		expect(await target.list('')).toEqual([]);

		log.length = 0;
		await target.cleanupIncomplete(`${ID}/`);
		const retried = log.find(entry => entry.command === 'AbortMultipartUploadCommand' && entry.uploadId === uploadId);
		expect(retried, 'cleanupIncomplete retries the abort that failed while the server was down').toBeDefined();
		if (retried?.outcome === 'ok') {
			const listed = await client.send(new ListMultipartUploadsCommand({Bucket: server.bucket, Prefix: 'prod/'}));
			expect(listed.Uploads ?? []).toEqual([]);
		} else {
			// s3rver: it cannot abort (nor list) multipart uploads. The parts stay in its data
			// directory, never visible as an object; the abort was still sent for the right id.
			expect(retried?.outcome).toBe('MethodNotAllowed');
			expect(log.find(entry => entry.command === 'ListMultipartUploadsCommand')?.outcome).toBe('NotImplemented');
		}

		// The retry settled it (aborted, or the server cannot): it is not retried forever.
		log.length = 0;
		await target.cleanupIncomplete('');
		expect(log.filter(entry => entry.command === 'AbortMultipartUploadCommand')).toEqual([]);

		const again = generatedStream(12 * MiB);
		const stored = await target.put(key, again.stream);
		expect(stored).toEqual({key, bytes: 12 * MiB, sha256: again.emitted().sha256});
		expect(await hashStream(await target.get(key))).toEqual({bytes: 12 * MiB, sha256: stored.sha256});
	});
});
