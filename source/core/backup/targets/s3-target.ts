import {
	AbortMultipartUploadCommand,
	DeleteObjectCommand,
	DeleteObjectsCommand,
	GetObjectCommand,
	HeadObjectCommand,
	ListMultipartUploadsCommand,
	paginateListObjectsV2,
	PutObjectCommand,
	type S3Client,
} from '@aws-sdk/client-s3';
import {Upload} from '@aws-sdk/lib-storage';
import {createHash} from 'node:crypto';
import {addAbortSignal, Readable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {cancelledError, throwIfCancelled} from '../../cancellation.js';
import {ActionableError, MsdbError} from '../../errors.js';
import {redact} from '../../redact.js';
import type {BackupTarget, ListedObject, StoredObject} from '../backup-target.js';
import {createHashingTap} from './hashing-tap.js';
import {assertDeletablePrefix, assertObjectKey, assertObjectPrefix} from './object-key.js';
import {watchSourceFailure} from './source-failure.js';
import {DEFAULT_PART_SIZE_BYTES, DEFAULT_QUEUE_SIZE, MIN_PART_SIZE_BYTES} from './s3-multipart.js';

export {DEFAULT_PART_SIZE_BYTES, DEFAULT_QUEUE_SIZE, MIN_PART_SIZE_BYTES} from './s3-multipart.js';

/** DeleteObjects takes at most this many keys per request. */
const DELETE_BATCH = 1000;

export type S3TargetOptions = {
	/** From {@link createS3Client}; the target does not own or close it. */
	client: S3Client;
	bucket: string;
	/** Folder inside the bucket (`backups/prod`), without leading or trailing `/`; default the bucket root. */
	prefix?: string;
	/** The custom endpoint, if any: named in error messages so "which server?" has an answer. */
	endpoint?: string;
	/** Multipart part size; at least 5 MiB (S3's minimum), default 8 MiB. */
	partSizeBytes?: number;
	/** Parts uploaded concurrently; default 4. */
	queueSize?: number;
};

/**
 * A {@link BackupTarget} in an S3 bucket (AWS or any S3-compatible server).
 *
 * `put` streams through `@aws-sdk/lib-storage`'s Upload (one PutObject for small bodies, a
 * multipart upload otherwise), hashing on the way; memory is bounded by part size × (queue
 * size + 1), not by the artifact. `onProgress` counts bytes handed to the uploader, which run
 * ahead of the bytes the server has acknowledged by at most that much. The object appears only when CompleteMultipartUpload succeeds.
 * On any failure or cancellation the multipart upload is aborted before `put` rejects, so no
 * parts are left billed and invisible; when the abort itself cannot reach the server (it is
 * down), the upload id is remembered and `cleanupIncomplete` retries it, besides listing and
 * aborting whatever unfinished uploads the server reports under the prefix (a bucket lifecycle
 * rule `AbortIncompleteMultipartUpload` is the backstop for a crashed process).
 */
export class S3Target implements BackupTarget {
	readonly display: string;
	readonly #client: S3Client;
	readonly #bucket: string;
	readonly #root: string;
	readonly #where: string;
	readonly #partSize: number;
	readonly #queueSize: number;
	/** Full S3 key by upload id: aborts that failed (server unreachable), retried by cleanupIncomplete. */
	readonly #pendingAborts = new Map<string, string>();

	constructor(options: S3TargetOptions) {
		const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
		if (prefix !== '') {
			assertObjectPrefix(prefix);
		}

		const partSize = options.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES;
		if (!Number.isInteger(partSize) || partSize < MIN_PART_SIZE_BYTES) {
			throw new ActionableError('E_BACKUP_TARGET_INVALID', `S3 part size ${partSize} is below S3's minimum of 5 MiB (${MIN_PART_SIZE_BYTES} bytes).`, {
				nextStep: 'Use a part size of at least 5 MiB.',
				details: {partSizeBytes: partSize},
			});
		}

		this.#client = options.client;
		this.#bucket = options.bucket;
		this.#root = prefix;
		this.#partSize = partSize;
		this.#queueSize = Math.max(1, options.queueSize ?? DEFAULT_QUEUE_SIZE);
		this.display = `s3://${options.bucket}${prefix ? `/${prefix}` : ''}`;
		this.#where = options.endpoint ? `${this.display} (endpoint ${redact(options.endpoint)})` : this.display;
	}

	/** {@inheritDoc BackupTarget.put} */
	async put(key: string, body: Readable, options: {onProgress?: (bytes: number) => void; signal?: AbortSignal} = {}): Promise<StoredObject> {
		const {signal} = options;
		try {
			assertObjectKey(key);
			throwIfCancelled(signal, `Nothing was uploaded to ${key}.`);
		} catch (error) {
			// A producer nobody will read (pg_dump on a full pipe) must not hang.
			body.destroy();
			throw error;
		}

		const objectKey = this.#objectKey(key);
		const tap = createHashingTap(options.onProgress);
		const sourceFailure = watchSourceFailure(body, [tap.stream]);
		// A failing body destroys the tap with its error, which fails the upload's read loop.
		const feeding = pipeline(body, tap.stream).catch(() => undefined);
		const upload = new Upload({
			client: this.#client,
			params: {Bucket: this.#bucket, Key: objectKey, Body: tap.stream},
			partSize: this.#partSize,
			queueSize: this.#queueSize,
			// We abort ourselves, after every part in flight has settled: the library's own abort
			// would mask the upload's error with the abort's when the server is gone.
			leavePartsOnError: true,
		});
		// Cancellation goes through the stream, not upload.abort(): the library then waits for the
		// parts in flight before failing, so our abort comes after the last part, not before it.
		const onAbort = () => tap.stream.destroy(cancelledError(`The upload of ${key} was aborted.`));
		signal?.addEventListener('abort', onAbort, {once: true});
		try {
			await upload.done();
		} catch (error) {
			// Before the teardown below, which makes the body emit errors of its own.
			const fromSource = sourceFailure();
			tap.stream.destroy();
			body.destroy();
			await feeding;
			const abortPending = !(await this.#abortMultipartUpload(upload.uploadId, objectKey));
			if (signal?.aborted) {
				throw cancelledError(`The multipart upload of ${key} was aborted; nothing was stored.`);
			}

			if (fromSource !== undefined) {
				throw fromSource;
			}

			throw this.#error(`upload ${key}`, key, error, {abortPending});
		} finally {
			signal?.removeEventListener('abort', onAbort);
		}

		// Cancelled after the last byte was read but before the upload completed: the object exists,
		// but the caller gave up on it, so it must not outlive the cancellation.
		if (signal?.aborted) {
			await this.#client.send(new DeleteObjectCommand({Bucket: this.#bucket, Key: objectKey})).catch(() => undefined);
			throw cancelledError(`The upload of ${key} was cancelled and the object deleted.`);
		}

		return {key, bytes: tap.bytes(), sha256: tap.sha256()};
	}

	/** {@inheritDoc BackupTarget.putBytes} */
	async putBytes(key: string, data: Buffer | string): Promise<StoredObject> {
		assertObjectKey(key);
		const buffer = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
		try {
			await this.#client.send(
				new PutObjectCommand({Bucket: this.#bucket, Key: this.#objectKey(key), Body: buffer, ContentLength: buffer.length}),
			);
		} catch (error) {
			throw this.#error(`upload ${key}`, key, error);
		}

		return {key, bytes: buffer.length, sha256: createHash('sha256').update(buffer).digest('hex')};
	}

	/** {@inheritDoc BackupTarget.get} */
	async get(key: string, options: {signal?: AbortSignal} = {}): Promise<Readable> {
		assertObjectKey(key);
		try {
			const response = await this.#client.send(
				new GetObjectCommand({Bucket: this.#bucket, Key: this.#objectKey(key)}),
				options.signal ? {abortSignal: options.signal} : {},
			);
			if (!(response.Body instanceof Readable)) {
				throw new Error('GetObject returned no readable body');
			}

			// The signal also ends the body's stream, not only the request that opened it.
			return options.signal ? addAbortSignal(options.signal, response.Body) : response.Body;
		} catch (error) {
			if (options.signal?.aborted) {
				throw cancelledError(`The download of ${key} was cancelled.`);
			}

			throw this.#error(`download ${key}`, key, error);
		}
	}

	/** {@inheritDoc BackupTarget.getBytes} */
	async getBytes(key: string): Promise<Buffer> {
		assertObjectKey(key);
		try {
			const response = await this.#client.send(new GetObjectCommand({Bucket: this.#bucket, Key: this.#objectKey(key)}));
			if (!response.Body) {
				throw new Error('GetObject returned no body');
			}

			const bytes = await response.Body.transformToByteArray();
			return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
		} catch (error) {
			throw this.#error(`download ${key}`, key, error);
		}
	}

	/** {@inheritDoc BackupTarget.list} */
	async list(prefix: string): Promise<ListedObject[]> {
		assertObjectPrefix(prefix);
		const objects: ListedObject[] = [];
		const rootLength = this.#root ? this.#root.length + 1 : 0;
		try {
			const pages = paginateListObjectsV2({client: this.#client}, {Bucket: this.#bucket, Prefix: this.#fullPrefix(prefix)});
			for await (const page of pages) {
				for (const object of page.Contents ?? []) {
					// Folder markers ("Create folder" in consoles) are not objects of ours.
					if (!object.Key || object.Key.endsWith('/')) {
						continue;
					}

					objects.push({key: object.Key.slice(rootLength), size: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0)});
				}
			}
		} catch (error) {
			throw this.#error(`list ${prefix || 'the target'}`, prefix, error);
		}

		return objects;
	}

	/** {@inheritDoc BackupTarget.exists} */
	async exists(key: string): Promise<boolean> {
		assertObjectKey(key);
		try {
			await this.#client.send(new HeadObjectCommand({Bucket: this.#bucket, Key: this.#objectKey(key)}));
			return true;
		} catch (error) {
			if (isNotFound(error)) {
				return false;
			}

			throw this.#error(`check ${key}`, key, error);
		}
	}

	/**
	 * {@inheritDoc BackupTarget.deletePrefix}
	 * Refuses `''`: deleting the whole target is never what a caller computing `<id>/` meant.
	 */
	async deletePrefix(prefix: string): Promise<number> {
		assertDeletablePrefix(prefix, this.display);
		const keys = (await this.list(prefix)).map(object => this.#objectKey(object.key));
		let deleted = 0;
		for (let start = 0; start < keys.length; start += DELETE_BATCH) {
			const batch = keys.slice(start, start + DELETE_BATCH);
			let failures: Array<{Key?: string; Code?: string; Message?: string}>;
			try {
				const response = await this.#client.send(
					new DeleteObjectsCommand({Bucket: this.#bucket, Delete: {Objects: batch.map(Key => ({Key})), Quiet: true}}),
				);
				failures = response.Errors ?? [];
			} catch (error) {
				throw this.#error(`delete ${prefix}`, prefix, error);
			}

			deleted += batch.length - failures.length;
			const [first] = failures;
			if (first) {
				throw new ActionableError(
					'E_BACKUP_TARGET_UNAVAILABLE',
					`Could not delete ${failures.length} object(s) under ${prefix} in ${this.#where}; first: ${first.Key ?? '?'}: ${first.Code ?? ''} ${redact(first.Message ?? '')}`.trim(),
					{
						nextStep: 'Check that the credentials may delete objects (s3:DeleteObject) and that Object Lock does not protect them, then run prune again.',
						details: {prefix, target: this.display, failed: failures.length, deleted},
					},
				);
			}
		}

		return deleted;
	}

	/**
	 * {@inheritDoc BackupTarget.cleanupIncomplete}
	 * Retries the aborts this instance could not send, then aborts every unfinished multipart
	 * upload the server lists under the prefix. Servers without ListMultipartUploads (s3rver)
	 * answer NotImplemented: that step is skipped, the retries still count. Only call it on a
	 * prefix no live run is writing to: an upload in progress looks the same as an abandoned one.
	 */
	async cleanupIncomplete(prefix: string): Promise<number> {
		assertObjectPrefix(prefix);
		const fullPrefix = this.#fullPrefix(prefix);
		let aborted = 0;
		for (const [uploadId, objectKey] of [...this.#pendingAborts]) {
			if (objectKey.startsWith(fullPrefix) && (await this.#sendAbort(uploadId, objectKey)) === 'aborted') {
				aborted++;
			}
		}

		let keyMarker: string | undefined;
		let uploadIdMarker: string | undefined;
		for (;;) {
			let page;
			try {
				page = await this.#client.send(
					new ListMultipartUploadsCommand({Bucket: this.#bucket, Prefix: fullPrefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker}),
				);
			} catch (error) {
				if (isUnsupported(error)) {
					return aborted;
				}

				throw this.#error(`list unfinished uploads under ${prefix || 'the target'}`, prefix, error);
			}

			for (const upload of page.Uploads ?? []) {
				if (upload.UploadId && upload.Key && (await this.#sendAbort(upload.UploadId, upload.Key)) === 'aborted') {
					aborted++;
				}
			}

			if (!page.IsTruncated) {
				return aborted;
			}

			keyMarker = page.NextKeyMarker;
			uploadIdMarker = page.NextUploadIdMarker;
		}
	}

	/** Aborts an unfinished multipart upload; false when it could not (it stays pending). */
	async #abortMultipartUpload(uploadId: string | undefined, objectKey: string): Promise<boolean> {
		if (uploadId === undefined) {
			return true; // A single PutObject, or failed before the multipart upload was created.
		}

		try {
			await this.#sendAbort(uploadId, objectKey);
			return true;
		} catch {
			return false;
		}
	}

	/**
	 * `aborted`; `gone` when the server no longer knows the upload; `unsupported` when it cannot
	 * abort (s3rver answers MethodNotAllowed). Throws, keeping it pending, when unreachable.
	 */
	async #sendAbort(uploadId: string, objectKey: string): Promise<'aborted' | 'gone' | 'unsupported'> {
		try {
			await this.#client.send(new AbortMultipartUploadCommand({Bucket: this.#bucket, Key: objectKey, UploadId: uploadId}));
			this.#pendingAborts.delete(uploadId);
			return 'aborted';
		} catch (error) {
			if (isNotFound(error) || errorName(error) === 'NoSuchUpload') {
				this.#pendingAborts.delete(uploadId);
				return 'gone';
			}

			if (isUnsupported(error)) {
				this.#pendingAborts.delete(uploadId);
				return 'unsupported';
			}

			this.#pendingAborts.set(uploadId, objectKey);
			throw this.#error(`abort the unfinished upload of ${objectKey}`, objectKey, error);
		}
	}

	#objectKey(key: string): string {
		return this.#root ? `${this.#root}/${key}` : key;
	}

	#fullPrefix(prefix: string): string {
		return this.#root ? `${this.#root}/${prefix}` : prefix;
	}

	/**
	 * One error for every S3 failure: what we tried, where, and S3's reason, redacted. The SDK's
	 * error is not kept as `cause`: nothing we do not keep can leak a credential into a log.
	 */
	#error(action: string, key: string, error: unknown, extra: {abortPending?: boolean} = {}): MsdbError {
		if (error instanceof MsdbError) {
			return error;
		}

		const name = errorName(error);
		const status = httpStatus(error);
		const reason = redact(error instanceof Error ? error.message : String(error));
		const details = {key, target: this.display, ...(name ? {s3Error: name} : {}), ...(status ? {httpStatus: status} : {}), ...extra};
		const pendingNote = extra.abortPending
			? ` The unfinished multipart upload could not be aborted (the server is unreachable); msdb retries that when it next cleans up, and a bucket lifecycle rule (AbortIncompleteMultipartUpload) is the backstop.`
			: '';
		if (isNotFound(error) || name === 'NoSuchKey') {
			return new ActionableError('E_BACKUP_OBJECT_NOT_FOUND', `${key} does not exist in ${this.#where}.`, {
				nextStep: `Check the backup id and the target; \`msdb backup list --target ${this.display}\` shows what is there.`,
				details,
			});
		}

		if (name === 'NoSuchBucket') {
			return new ActionableError('E_BACKUP_TARGET_INVALID', `The bucket ${this.#bucket} does not exist (${this.#where}).`, {
				nextStep: 'Create the bucket, or fix the bucket name in --target / MSDB_BACKUP_TARGET.',
				details,
			});
		}

		if (name === 'CredentialsProviderError' || CREDENTIAL_ERRORS.has(name ?? '') || status === 403) {
			return new ActionableError('E_BACKUP_TARGET_UNAVAILABLE', `S3 refused to ${action} in ${this.#where}: ${name ?? status}: ${reason}${pendingNote}`, {
				nextStep:
					'Check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the instance role) and that they may read, write, list and delete under this prefix.',
				details,
			});
		}

		return new ActionableError('E_BACKUP_TARGET_UNAVAILABLE', `Could not ${action} in ${this.#where}: ${name ? `${name}: ` : ''}${reason}${pendingNote}`, {
			nextStep: 'Check that the S3 server is reachable (endpoint, network, S3_ENDPOINT / AWS_ENDPOINT_URL_S3) and try again.',
			details,
		});
	}
}

const CREDENTIAL_ERRORS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired']);

function errorName(error: unknown): string | undefined {
	const name = (error as {name?: unknown; Code?: unknown} | undefined)?.name;
	return typeof name === 'string' && name !== 'Error' ? name : ((error as {code?: string} | undefined)?.code ?? undefined);
}

function httpStatus(error: unknown): number | undefined {
	return (error as {$metadata?: {httpStatusCode?: number}} | undefined)?.$metadata?.httpStatusCode;
}

function isNotFound(error: unknown): boolean {
	const name = errorName(error);
	return name === 'NotFound' || name === 'NoSuchKey' || (httpStatus(error) === 404 && name !== 'NoSuchBucket');
}

/** The server does not implement the operation (s3rver: ListMultipartUploads, AbortMultipartUpload). */
function isUnsupported(error: unknown): boolean {
	const name = errorName(error);
	const status = httpStatus(error);
	return name === 'NotImplemented' || name === 'MethodNotAllowed' || status === 501 || status === 405;
}
