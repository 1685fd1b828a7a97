import {createHash, randomBytes} from 'node:crypto';
import {createWriteStream} from 'node:fs';
import {mkdir, open, readdir, readFile, rename, rm, rmdir, stat, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {addAbortSignal, type Readable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {cancelledError, throwIfCancelled} from '../../cancellation.js';
import {ActionableError} from '../../errors.js';
import type {BackupTarget, ListedObject, StoredObject} from '../backup-target.js';
import {createHashingTap} from './hashing-tap.js';
import {watchSourceFailure} from './source-failure.js';
import {assertDeletablePrefix, assertObjectKey, assertObjectPrefix, PARTIAL_SUFFIX_PATTERN} from './object-key.js';

/** Backups hold every row of the database: readable by the owner only. */
const FILE_MODE = 0o600;
const DIRECTORY_MODE = 0o700;

/**
 * A {@link BackupTarget} in a local (or mounted) directory.
 *
 * Objects appear atomically: `put` writes `<key>.partial-<random hex>`, fsyncs it, renames it
 * over the key and fsyncs the folder, so a reader (or a crash) sees the old object, the whole
 * new one, or nothing, never half a file. Temp files are invisible to `list`/`exists`/`get`, and
 * `cleanupIncomplete` removes the ones a crashed run left. Keys are checked lexically
 * ({@link assertObjectKey}) so none resolves outside the root; symbolic links inside the root
 * are followed as the operator set them up (they are the operator's, not the key's, doing).
 */
export class DirectoryTarget implements BackupTarget {
	readonly display: string;
	readonly #root: string;

	/** `root` may be relative (to the working directory) and need not exist yet: `put` creates it. */
	constructor(root: string) {
		this.#root = path.resolve(root);
		this.display = this.#root;
	}

	/** {@inheritDoc BackupTarget.put} */
	async put(key: string, body: Readable, options: {onProgress?: (bytes: number) => void; signal?: AbortSignal} = {}): Promise<StoredObject> {
		const {signal} = options;
		let finalPath: string;
		try {
			finalPath = this.#pathOf(key);
			throwIfCancelled(signal, `Nothing was written to ${key}.`);
			await this.#mkdir(path.dirname(finalPath), key);
		} catch (error) {
			// A producer nobody will read (pg_dump on a full pipe) must not hang.
			body.destroy();
			throw error;
		}

		const temporaryPath = `${finalPath}.partial-${randomBytes(8).toString('hex')}`;
		const tap = createHashingTap(options.onProgress);
		let sourceFailure = (): unknown => undefined;
		try {
			// `wx`: never write through a temp name someone else holds. `flush`: fsync before close,
			// so the rename below never publishes a file whose bytes are still only in the page cache.
			const file = createWriteStream(temporaryPath, {flags: 'wx', mode: FILE_MODE, flush: true});
			sourceFailure = watchSourceFailure(body, [tap.stream, file]);
			await pipeline(body, tap.stream, file, signal ? {signal} : {});
			await rename(temporaryPath, finalPath);
		} catch (error) {
			const fromSource = sourceFailure();
			await rm(temporaryPath, {force: true}).catch(() => undefined);
			// The producer (pg_dump's stdout, an RDB socket) must not block on a stream nobody reads.
			body.destroy();
			if (signal?.aborted) {
				throw cancelledError(`The partial file for ${key} was removed; nothing was stored.`);
			}

			if (error instanceof ActionableError) {
				throw error;
			}

			if (fromSource !== undefined) {
				throw fromSource;
			}

			throw this.#ioError(`write ${key}`, error, key);
		}

		// The rename is durable only once the folder's entry is on disk.
		await this.#syncDirectory(path.dirname(finalPath));
		return {key, bytes: tap.bytes(), sha256: tap.sha256()};
	}

	/** {@inheritDoc BackupTarget.putBytes} */
	async putBytes(key: string, data: Buffer | string): Promise<StoredObject> {
		const buffer = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
		const finalPath = this.#pathOf(key);
		await this.#mkdir(path.dirname(finalPath), key);
		// Manifests and verification records: one write, none of put()'s stream machinery, which
		// cost the end of every backup a few ms. Same guarantees: temp name, fsync, rename, folder fsync.
		const temporaryPath = `${finalPath}.partial-${randomBytes(8).toString('hex')}`;
		try {
			await writeFile(temporaryPath, buffer, {flag: 'wx', mode: FILE_MODE, flush: true});
			await rename(temporaryPath, finalPath);
		} catch (error) {
			await rm(temporaryPath, {force: true}).catch(() => undefined);
			throw this.#ioError(`write ${key}`, error, key);
		}

		await this.#syncDirectory(path.dirname(finalPath));
		return {key, bytes: buffer.length, sha256: createHash('sha256').update(buffer).digest('hex')};
	}

	/** {@inheritDoc BackupTarget.get} */
	async get(key: string, options: {signal?: AbortSignal} = {}): Promise<Readable> {
		const filePath = this.#pathOf(key);
		// Opened before returning, so a missing key rejects here rather than as a stream error later.
		let handle: Awaited<ReturnType<typeof open>> | undefined;
		try {
			handle = await open(filePath, 'r');
			if (!(await handle.stat()).isFile()) {
				throw Object.assign(new Error(`${key} is a folder`), {code: 'EISDIR'});
			}
		} catch (error) {
			await handle?.close().catch(() => undefined);
			throw this.#readError(key, error);
		}

		const stream = handle.createReadStream();
		return options.signal ? addAbortSignal(options.signal, stream) : stream;
	}

	/** {@inheritDoc BackupTarget.getBytes} */
	async getBytes(key: string): Promise<Buffer> {
		const filePath = this.#pathOf(key);
		try {
			return await readFile(filePath);
		} catch (error) {
			throw this.#readError(key, error);
		}
	}

	/** {@inheritDoc BackupTarget.list} */
	async list(prefix: string): Promise<ListedObject[]> {
		assertObjectPrefix(prefix);
		// Walk only the deepest folder the prefix names completely, then match by string as S3 does.
		const lastSlash = prefix.lastIndexOf('/');
		const folderKey = lastSlash === -1 ? '' : prefix.slice(0, lastSlash);
		const objects: ListedObject[] = [];
		await this.#walk(folderKey, async (key, filePath) => {
			if (!key.startsWith(prefix) || PARTIAL_SUFFIX_PATTERN.test(key)) {
				return;
			}

			try {
				const info = await stat(filePath);
				objects.push({key, size: info.size, modifiedAt: info.mtime});
			} catch (error) {
				// Deleted between readdir and stat (a concurrent prune): not there any more.
				if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
					throw this.#ioError(`read ${key}`, error, key);
				}
			}
		});
		return objects;
	}

	/** {@inheritDoc BackupTarget.exists} */
	async exists(key: string): Promise<boolean> {
		const filePath = this.#pathOf(key);
		try {
			return (await stat(filePath)).isFile();
		} catch (error) {
			const code = (error as NodeJS.ErrnoException).code;
			if (code === 'ENOENT' || code === 'ENOTDIR') {
				return false;
			}

			throw this.#ioError(`check ${key}`, error, key);
		}
	}

	/**
	 * {@inheritDoc BackupTarget.deletePrefix}
	 * Also removes temp files under the prefix, and folders left empty. Refuses `''`: deleting
	 * the whole root is never what a caller computing `<id>/` meant.
	 */
	async deletePrefix(prefix: string): Promise<number> {
		assertDeletablePrefix(prefix, this.display);
		const lastSlash = prefix.lastIndexOf('/');
		const folderKey = lastSlash === -1 ? '' : prefix.slice(0, lastSlash);
		let deleted = 0;
		const folders = new Set<string>();
		await this.#walk(folderKey, async (key, filePath) => {
			if (!key.startsWith(prefix)) {
				return;
			}

			try {
				await rm(filePath, {force: true});
			} catch (error) {
				throw this.#ioError(`delete ${key}`, error, key);
			}

			if (!PARTIAL_SUFFIX_PATTERN.test(key)) {
				deleted++;
			}

			folders.add(path.dirname(filePath));
		});
		await this.#removeEmptyFolders(folders);
		return deleted;
	}

	/** {@inheritDoc BackupTarget.cleanupIncomplete} */
	async cleanupIncomplete(prefix: string): Promise<number> {
		assertObjectPrefix(prefix);
		const lastSlash = prefix.lastIndexOf('/');
		const folderKey = lastSlash === -1 ? '' : prefix.slice(0, lastSlash);
		let removed = 0;
		await this.#walk(folderKey, async (key, filePath) => {
			if (key.startsWith(prefix) && PARTIAL_SUFFIX_PATTERN.test(key)) {
				await rm(filePath, {force: true});
				removed++;
			}
		});
		return removed;
	}

	#pathOf(key: string): string {
		assertObjectKey(key);
		const resolved = path.resolve(this.#root, ...key.split('/'));
		// Belt and braces: assertObjectKey already refuses every way out of the root.
		const relative = path.relative(this.#root, resolved);
		if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) {
			throw new ActionableError('E_BACKUP_TARGET_INVALID', `Refusing object key ${JSON.stringify(key)}: it resolves outside ${this.display}.`, {details: {key}});
		}

		return resolved;
	}

	/** Calls `visit` for every file under the folder `folderKey` (recursively); a missing folder has none. */
	async #walk(folderKey: string, visit: (key: string, filePath: string) => Promise<void>): Promise<void> {
		const folder = folderKey === '' ? this.#root : this.#pathOf(folderKey);
		let entries;
		try {
			entries = await readdir(folder, {withFileTypes: true});
		} catch (error) {
			const code = (error as NodeJS.ErrnoException).code;
			// No root yet (nothing stored) or no such folder: an empty listing, like an empty S3 prefix.
			if (code === 'ENOENT' || (code === 'ENOTDIR' && folderKey !== '')) {
				return;
			}

			throw this.#ioError(`list ${folderKey || 'the root'}`, error, folderKey);
		}

		for (const entry of entries) {
			const key = folderKey === '' ? entry.name : `${folderKey}/${entry.name}`;
			if (entry.isDirectory()) {
				await this.#walk(key, visit);
			} else if (entry.isFile()) {
				await visit(key, path.join(folder, entry.name));
			}
		}
	}

	async #mkdir(folder: string, key: string): Promise<void> {
		try {
			await mkdir(folder, {recursive: true, mode: DIRECTORY_MODE});
		} catch (error) {
			throw this.#ioError(`create the folder for ${key}`, error, key);
		}
	}

	async #syncDirectory(folder: string): Promise<void> {
		try {
			const handle = await open(folder, 'r');
			try {
				await handle.sync();
			} finally {
				await handle.close();
			}
		} catch {
			// Some file systems (and all of Windows) cannot fsync a directory; the rename still happened.
		}
	}

	async #removeEmptyFolders(folders: Set<string>): Promise<void> {
		// Deepest first, then each parent up to (not including) the root, while they are empty.
		const queue = [...folders].sort((a, b) => b.length - a.length);
		const tried = new Set<string>();
		for (let folder of queue) {
			while (folder !== this.#root && folder.startsWith(this.#root + path.sep) && !tried.has(folder)) {
				tried.add(folder);
				try {
					await rmdir(folder);
				} catch {
					break; // Not empty (or already gone): its parents are not empty either.
				}

				folder = path.dirname(folder);
			}
		}
	}

	#readError(key: string, error: unknown): ActionableError {
		if (error instanceof ActionableError) {
			return error;
		}

		const code = (error as NodeJS.ErrnoException).code;
		if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
			return new ActionableError('E_BACKUP_OBJECT_NOT_FOUND', `${key} does not exist in ${this.display}.`, {
				nextStep: `Check the backup id and the target; \`msdb backup list --target ${this.display}\` shows what is there.`,
				details: {key, target: this.display},
			});
		}

		return this.#ioError(`read ${key}`, error, key);
	}

	#ioError(action: string, error: unknown, key: string): ActionableError {
		const code = (error as NodeJS.ErrnoException | undefined)?.code;
		const message = error instanceof Error ? error.message : String(error);
		const refused = code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST';
		return new ActionableError(
			refused ? 'E_BACKUP_TARGET_INVALID' : 'E_BACKUP_TARGET_UNAVAILABLE',
			`Could not ${action} in the backup directory ${this.display}: ${message}`,
			{
				nextStep: refused
					? `Check that ${this.display} is a directory msdb's user may write to (or choose another --target).`
					: `Check the disk (space, mount) under ${this.display} and try again.`,
				details: {key, target: this.display, ...(code ? {errno: code} : {})},
				cause: error,
			},
		);
	}
}
