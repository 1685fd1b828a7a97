import type {Readable} from 'node:stream';
import type {BackupTarget, ListedObject, StoredObject} from '../backup-target.js';

/**
 * A target whose implementation loads on its first request. openBackupTarget validates a
 * `--target` value with string checks alone and returns one of these, so a command pays for a
 * target's code only once it touches the target: the AWS SDK for S3 (~100 ms) is never loaded
 * by a command refused up front or by a directory backup, and a backup loads either
 * implementation only after pg_dump has started, off the path that delays pg_dump.
 */
export class LazyTarget implements BackupTarget {
	#target: Promise<BackupTarget> | undefined;

	/** `display` must be what the loaded target's own `display` will be. */
	constructor(
		readonly display: string,
		private readonly load: () => Promise<BackupTarget>,
	) {}

	async put(key: string, body: Readable, options?: {onProgress?: (bytes: number) => void; signal?: AbortSignal}): Promise<StoredObject> {
		return (await this.#loaded()).put(key, body, options);
	}

	async putBytes(key: string, data: Buffer | string): Promise<StoredObject> {
		return (await this.#loaded()).putBytes(key, data);
	}

	async get(key: string, options?: {signal?: AbortSignal}): Promise<Readable> {
		return (await this.#loaded()).get(key, options);
	}

	async getBytes(key: string): Promise<Buffer> {
		return (await this.#loaded()).getBytes(key);
	}

	async list(prefix: string): Promise<ListedObject[]> {
		return (await this.#loaded()).list(prefix);
	}

	async exists(key: string): Promise<boolean> {
		return (await this.#loaded()).exists(key);
	}

	async deletePrefix(prefix: string): Promise<number> {
		return (await this.#loaded()).deletePrefix(prefix);
	}

	async cleanupIncomplete(prefix: string): Promise<number> {
		return (await this.#loaded()).cleanupIncomplete(prefix);
	}

	async #loaded(): Promise<BackupTarget> {
		this.#target ??= this.load();
		return this.#target;
	}
}
