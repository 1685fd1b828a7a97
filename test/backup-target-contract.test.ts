/**
 * The BackupTarget contract, one suite run against both implementations: a real directory and
 * the S3 server of the global setup (s3rver, or MinIO/AWS through MSDB_TEST_S3_URL). Every test
 * gets a fresh directory or a fresh key prefix. Part size is S3's minimum (5 MiB), so the
 * multi-MB streams below go through real multipart uploads.
 */
import {randomBytes} from 'node:crypto';
import {mkdtemp, readdir, rm, stat, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, inject, it} from 'vitest';
import type {BackupTarget} from '../source/core/backup/backup-target.js';
import {DirectoryTarget} from '../source/core/backup/targets/directory-target.js';
import {createS3Client} from '../source/core/backup/targets/s3-client.js';
import {MIN_PART_SIZE_BYTES, S3Target} from '../source/core/backup/targets/s3-target.js';
import {generatedStream, hashStream, MiB} from './support/generated-stream.js';

const directories: string[] = [];
afterAll(async () => {
	await Promise.all(directories.map(async directory => rm(directory, {recursive: true, force: true})));
});

type Implementation = {name: string; open: () => Promise<BackupTarget>};

const implementations: Implementation[] = [
	{
		name: 'directory',
		open: async () => {
			const root = await mkdtemp(path.join(tmpdir(), 'msdb-target-contract-'));
			directories.push(root);
			// A root that does not exist yet: the first put creates it.
			return new DirectoryTarget(path.join(root, 'backups'));
		},
	},
	{
		name: 's3',
		open: async () => {
			const s3 = inject('s3');
			const client = createS3Client({region: s3.region, endpoint: s3.endpoint, credentials: {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey}});
			return new S3Target({client, bucket: s3.bucket, prefix: `contract/${randomBytes(6).toString('hex')}`, endpoint: s3.endpoint, partSizeBytes: MIN_PART_SIZE_BYTES});
		},
	},
];

const ID = '20250102T030405Z-0a1b2c';

describe.each(implementations)('BackupTarget contract: $name', ({open}) => {
	it('round-trips a multi-MB stream with its sha256, size and progress', async () => {
		const target = await open();
		const total = 12 * MiB + 12_345;
		const source = generatedStream(total);
		const progress: number[] = [];
		const stored = await target.put(`${ID}/postgres.dump`, source.stream, {onProgress: bytes => progress.push(bytes)});

		expect(stored).toEqual({key: `${ID}/postgres.dump`, bytes: total, sha256: source.emitted().sha256});
		expect(source.emitted().bytes).toBe(total);
		// Progress is cumulative, rises steadily and ends at the total.
		expect(progress.length).toBeGreaterThan(10);
		expect(progress.every((bytes, index) => index === 0 || bytes > (progress[index - 1] ?? 0))).toBe(true);
		expect(progress.at(-1)).toBe(total);

		const downloaded = await hashStream(await target.get(`${ID}/postgres.dump`));
		expect(downloaded).toEqual({bytes: total, sha256: stored.sha256});
		const [listed] = await target.list(`${ID}/`);
		expect(listed).toMatchObject({key: `${ID}/postgres.dump`, size: total});
		expect(Math.abs((listed?.modifiedAt.getTime() ?? 0) - Date.now())).toBeLessThan(120_000);
	});

	it('stores nothing when the body fails part-way, and keeps the object it would have replaced', async () => {
		const target = await open();
		const key = `${ID}/redis.rdb`;
		const first = await target.putBytes(key, 'the previous complete version');
		const failing = generatedStream(20 * MiB, {failAfterBytes: 7 * MiB, failWith: new Error('pg_dump exited with code 1')});

		await expect(target.put(key, failing.stream)).rejects.toThrow('pg_dump exited with code 1');
		expect(failing.emitted().bytes).toBeGreaterThanOrEqual(7 * MiB);
		expect((await target.getBytes(key)).toString()).toBe('the previous complete version');

		const fresh = generatedStream(20 * MiB, {failAfterBytes: 6 * MiB});
		await expect(target.put(`${ID}/other.dump`, fresh.stream)).rejects.toThrow('the producer died');
		expect(await target.exists(`${ID}/other.dump`)).toBe(false);
		expect((await target.list('')).map(object => object.key)).toEqual([key]);
		expect(first.sha256).toMatch(/^[\da-f]{64}$/);
	});

	it('aborts through the signal: rejects with E_CANCELLED, stores nothing, stops reading the body', async () => {
		const target = await open();
		const controller = new AbortController();
		const endless = generatedStream(Number.MAX_SAFE_INTEGER);
		const put = target.put(`${ID}/postgres.dump`, endless.stream, {
			signal: controller.signal,
			onProgress: bytes => {
				if (bytes >= 7 * MiB) {
					controller.abort();
				}
			},
		});

		await expect(put).rejects.toMatchObject({code: 'E_CANCELLED'});
		expect(await target.exists(`${ID}/postgres.dump`)).toBe(false);
		expect(await target.list('')).toEqual([]);
		expect(endless.stream.destroyed).toBe(true);
		const readAtRejection = endless.emitted().bytes;
		await new Promise(resolve => setTimeout(resolve, 50));
		expect(endless.emitted().bytes).toBe(readAtRejection);

		// A signal that has already fired: nothing is read at all.
		const untouched = generatedStream(MiB);
		await expect(target.put(`${ID}/late.dump`, untouched.stream, {signal: AbortSignal.abort()})).rejects.toMatchObject({code: 'E_CANCELLED'});
		expect(untouched.emitted().bytes).toBe(0);
		expect(await target.exists(`${ID}/late.dump`)).toBe(false);
	});

	it('lists by prefix (recursively, as strings), checks existence and deletes by prefix', async () => {
		const target = await open();
		for (const key of ['a/1', 'a/2', 'a/b/3', 'ab/4', 'c']) {
			await target.putBytes(key, `content of ${key}`);
		}

		const keys = async (prefix: string) => (await target.list(prefix)).map(object => object.key).sort();
		expect(await keys('')).toEqual(['a/1', 'a/2', 'a/b/3', 'ab/4', 'c']);
		expect(await keys('a/')).toEqual(['a/1', 'a/2', 'a/b/3']);
		expect(await keys('a')).toEqual(['a/1', 'a/2', 'a/b/3', 'ab/4']);
		expect(await keys('a/b/')).toEqual(['a/b/3']);
		expect(await keys('nothing/')).toEqual([]);
		expect((await target.list('c'))[0]?.size).toBe('content of c'.length);

		expect(await target.exists('a/b/3')).toBe(true);
		expect(await target.exists('a/b')).toBe(false);
		expect(await target.exists('a/9')).toBe(false);

		expect(await target.deletePrefix('a/')).toBe(3);
		expect(await keys('')).toEqual(['ab/4', 'c']);
		expect(await target.exists('a/1')).toBe(false);
		expect(await target.deletePrefix('a/')).toBe(0);
		await expect(target.deletePrefix('')).rejects.toMatchObject({code: 'E_BACKUP_TARGET_INVALID'});
		expect(await keys('')).toEqual(['ab/4', 'c']);
	});

	it('confines keys to the root: refuses .., absolute keys, NUL and other malformed keys', async () => {
		const target = await open();
		const bad = ['../escape', `${ID}/../../escape`, '/etc/passwd', 'C:/escape', 'a\0b', 'a//b', 'a/./b', 'a\\..\\b', 'trailing/', '', 'x/y.partial-0123abcd'];
		for (const key of bad) {
			const refusal = {code: 'E_BACKUP_TARGET_INVALID', message: expect.stringContaining(JSON.stringify(key))};
			await expect(target.putBytes(key, 'x'), key).rejects.toMatchObject(refusal);
			const body = generatedStream(10).stream;
			await expect(target.put(key, body), key).rejects.toMatchObject(refusal);
			// The producer is released, not left blocked on a stream nobody reads.
			expect(body.destroyed, key).toBe(true);
			await expect(target.getBytes(key), key).rejects.toMatchObject(refusal);
			await expect(target.get(key), key).rejects.toMatchObject(refusal);
			await expect(target.exists(key), key).rejects.toMatchObject(refusal);
		}

		for (const prefix of ['../', '/abs/', 'a/../']) {
			await expect(target.list(prefix), prefix).rejects.toMatchObject({code: 'E_BACKUP_TARGET_INVALID'});
			await expect(target.deletePrefix(prefix), prefix).rejects.toMatchObject({code: 'E_BACKUP_TARGET_INVALID'});
		}

		expect(await target.list('')).toEqual([]);
	});

	it('stores and reads small objects whole with putBytes/getBytes', async () => {
		const target = await open();
		const text = '{"formatVersion":1,"note":"ünïcødé"}\n';
		const stored = await target.putBytes(`${ID}/manifest.json`, text);
		expect(stored).toMatchObject({key: `${ID}/manifest.json`, bytes: Buffer.byteLength(text)});
		expect((await target.getBytes(`${ID}/manifest.json`)).toString('utf8')).toBe(text);

		const binary = randomBytes(70_000);
		const again = await target.putBytes(`${ID}/manifest.json`, binary);
		expect(again.bytes).toBe(binary.length);
		expect((await target.getBytes(`${ID}/manifest.json`)).equals(binary)).toBe(true);
		expect(await hashStream(await target.get(`${ID}/manifest.json`))).toEqual({bytes: binary.length, sha256: again.sha256});

		const empty = await target.putBytes(`${ID}/empty`, Buffer.alloc(0));
		expect(empty).toEqual({key: `${ID}/empty`, bytes: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'});
		expect((await target.getBytes(`${ID}/empty`)).length).toBe(0);
	});

	it('names the missing key when an object does not exist', async () => {
		const target = await open();
		const missing = `${ID}/missing.dump`;
		const notFound = {code: 'E_BACKUP_OBJECT_NOT_FOUND', message: expect.stringContaining(missing), details: expect.objectContaining({key: missing})};
		await expect(target.getBytes(missing)).rejects.toMatchObject(notFound);
		await expect(target.get(missing)).rejects.toMatchObject(notFound);
		expect(await target.exists(missing)).toBe(false);
		expect(await target.list(`${ID}/`)).toEqual([]);
		expect(await target.cleanupIncomplete(`${ID}/`)).toBe(0);
	});
});

describe('DirectoryTarget specifics', () => {
	it('leaves no temp file behind a failed put, and cleanupIncomplete removes a crashed run\'s', async () => {
		const root = await mkdtemp(path.join(tmpdir(), 'msdb-target-directory-'));
		directories.push(root);
		const target = new DirectoryTarget(root);
		await expect(target.put(`${ID}/postgres.dump`, generatedStream(4 * MiB, {failAfterBytes: MiB}).stream)).rejects.toThrow('the producer died');
		expect(await readdir(path.join(root, ID))).toEqual([]);

		// What a killed process leaves: a temp file next to where the object would have gone.
		await writeFile(path.join(root, ID, 'postgres.dump.partial-0123456789abcdef'), 'half a dump');
		await target.putBytes(`${ID}/redis.rdb`, 'complete');
		expect((await target.list('')).map(object => object.key)).toEqual([`${ID}/redis.rdb`]);
		expect(await target.exists(`${ID}/postgres.dump`)).toBe(false);
		expect(await target.cleanupIncomplete('other/')).toBe(0);
		expect(await target.cleanupIncomplete(`${ID}/`)).toBe(1);
		expect((await readdir(path.join(root, ID))).sort()).toEqual(['redis.rdb']);

		// Backups hold every row: owner-only files. deletePrefix removes the emptied folder too.
		expect((await stat(path.join(root, ID, 'redis.rdb'))).mode & 0o777).toBe(0o600);
		expect(await target.deletePrefix(`${ID}/`)).toBe(1);
		expect(await readdir(root)).toEqual([]);
	});

	it('refuses a root that is a file, naming it', async () => {
		const parent = await mkdtemp(path.join(tmpdir(), 'msdb-target-file-root-'));
		directories.push(parent);
		const file = path.join(parent, 'not-a-directory');
		await writeFile(file, 'x');
		const target = new DirectoryTarget(file);
		const refused = {code: 'E_BACKUP_TARGET_INVALID', message: expect.stringContaining(file)};
		await expect(target.putBytes(`${ID}/manifest.json`, '{}')).rejects.toMatchObject(refused);
		await expect(target.list('')).rejects.toMatchObject(refused);
	});

	it('never writes outside its root, even for keys that would resolve there', async () => {
		const parent = await mkdtemp(path.join(tmpdir(), 'msdb-target-confine-'));
		directories.push(parent);
		const target = new DirectoryTarget(path.join(parent, 'root'));
		await expect(target.putBytes('../outside', 'x')).rejects.toMatchObject({code: 'E_BACKUP_TARGET_INVALID'});
		await expect(target.putBytes('a/../../outside', 'x')).rejects.toMatchObject({code: 'E_BACKUP_TARGET_INVALID'});
		expect(await readdir(parent)).toEqual([]);
	});
});
