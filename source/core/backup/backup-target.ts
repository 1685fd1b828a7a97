import type {Readable} from 'node:stream';

/** What a stored object turned out to be: its size and sha256, computed while it streamed. */
export type StoredObject = {key: string; bytes: number; sha256: string};

export type ListedObject = {key: string; size: number; modifiedAt: Date};

/**
 * Where backups live: an S3 bucket/prefix or a local directory. Keys are relative to the
 * target's root and use `/` (`<backup-id>/postgres.dump`). One contract, one shared test suite
 * run against both implementations.
 */
export interface BackupTarget {
	/** Where this is, fit for printing (credentials masked): `s3://bucket/prefix` or a path. */
	readonly display: string;

	/**
	 * Streams `body` to `key`, hashing (sha256) and counting bytes as it goes, never holding the
	 * whole object in memory. The object appears only when complete: a directory writes a temp
	 * file and renames it; S3 completes the multipart upload at the end and aborts it on any
	 * failure. Rejects (and leaves nothing behind) when `body` errors or `signal` fires.
	 */
	put(
		key: string,
		body: Readable,
		options?: {onProgress?: (bytes: number) => void; signal?: AbortSignal},
	): Promise<StoredObject>;

	/** Stores a small object (a manifest, a verification record) in one request. */
	putBytes(key: string, data: Buffer | string): Promise<StoredObject>;

	/** A stream of the object's bytes; rejects with an ActionableError naming the key if it is missing. */
	get(key: string, options?: {signal?: AbortSignal}): Promise<Readable>;

	/** The whole object, for small ones (manifests). */
	getBytes(key: string): Promise<Buffer>;

	/** Every object under `prefix` (recursively), in no particular order. */
	list(prefix: string): Promise<ListedObject[]>;

	exists(key: string): Promise<boolean>;

	/** Deletes every object under `prefix`; returns how many. */
	deletePrefix(prefix: string): Promise<number>;

	/** Removes what a crashed run left under `prefix`: temp files, unfinished multipart uploads. */
	cleanupIncomplete(prefix: string): Promise<number>;
}
