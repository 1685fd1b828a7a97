/**
 * list and prune over real targets (a directory and the S3 server), seeded the way backup
 * create and verify leave them: sealed manifests, artifacts, verification records, plus what a
 * real target also holds: a crashed run's folder without a manifest, a tampered manifest, a
 * broken verification record and files that are not msdb's.
 *
 * Times: backups are placed days before `now`, which is two days ahead of the clock, so the
 * manifest-less folder (its objects written just now) is past the one-day grace period.
 */
import {randomBytes} from 'node:crypto';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {afterAll, beforeEach, describe, expect, inject, it} from 'vitest';
import {listBackups, pruneBackups, readBackup, readVerificationRecords, writeVerificationRecord} from '../source/core/backup/backup-catalogue.js';
import {artifactKey, manifestKey, newBackupId, serializeManifest} from '../source/core/backup/backup-manifest.js';
import type {BackupTarget} from '../source/core/backup/backup-target.js';
import {DirectoryTarget} from '../source/core/backup/targets/directory-target.js';
import {createS3Client} from '../source/core/backup/targets/s3-client.js';
import {S3Target} from '../source/core/backup/targets/s3-target.js';
import {sampleManifest, sampleVerification} from './support/backup-fixtures.js';

const DAY = 86_400_000;
const directories: string[] = [];
afterAll(async () => {
	await Promise.all(directories.map(async directory => rm(directory, {recursive: true, force: true})));
});

const implementations = [
	{
		name: 'directory',
		open: async (): Promise<BackupTarget> => {
			const root = await mkdtemp(path.join(tmpdir(), 'msdb-catalogue-'));
			directories.push(root);
			return new DirectoryTarget(root);
		},
	},
	{
		name: 's3',
		open: async (): Promise<BackupTarget> => {
			const s3 = inject('s3');
			const client = createS3Client({region: s3.region, endpoint: s3.endpoint, credentials: {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey}});
			return new S3Target({client, bucket: s3.bucket, prefix: `catalogue/${randomBytes(6).toString('hex')}`});
		},
	},
];

type Seeded = {
	now: Date;
	/** Backup ids by age in days. */
	b10: string;
	b8: string;
	b5: string;
	b3: string;
	b1: string;
	/** A crashed run: an artifact, no manifest. */
	crashed: string;
	/** A manifest edited after it was sealed. */
	tampered: string;
};

async function seed(target: BackupTarget): Promise<Seeded> {
	const now = new Date(Date.now() + 2 * DAY);
	const daysAgo = (days: number) => new Date(now.getTime() - days * DAY);
	const backup = async (days: number, options: Parameters<typeof sampleManifest>[1] = {}) => {
		const id = newBackupId(daysAgo(days));
		const manifest = sampleManifest(id, {startedAt: daysAgo(days), ...options});
		for (const part of [manifest.postgres, manifest.redis]) {
			if (part) {
				await target.putBytes(part.artifact.key, `artifact of ${id}`);
			}
		}

		await target.putBytes(manifestKey(id), serializeManifest(manifest).json);
		return id;
	};

	const b10 = await backup(10, {postgresBytes: 100, redisBytes: 10});
	const b8 = await backup(8, {postgresBytes: 200, only: 'postgres'});
	const b5 = await backup(5, {redisBytes: 300, only: 'redis'});
	const b3 = await backup(3, {postgresBytes: 400, redisBytes: 40});
	const b1 = await backup(1, {postgresBytes: 500, redisBytes: 50, durationMs: 3_600_000});
	await writeVerificationRecord(target, sampleVerification(b8, daysAgo(7), true, true));
	// b3 passed once, then failed: its latest result is what counts.
	await writeVerificationRecord(target, sampleVerification(b3, daysAgo(2.5), true));
	await writeVerificationRecord(target, sampleVerification(b3, daysAgo(2), false));
	await target.putBytes(`${b1}/verification-20990101T000000000Z.json`, 'not json');

	const crashed = newBackupId(daysAgo(4));
	await target.putBytes(artifactKey(crashed, 'postgres.dump'), 'half a dump');

	const tampered = await backup(6);
	const sealed = JSON.parse((await target.getBytes(manifestKey(tampered))).toString());
	sealed.postgres.artifact.bytes = 1;
	await target.putBytes(manifestKey(tampered), JSON.stringify(sealed));

	await target.putBytes('notes/readme.txt', 'not a backup');
	await target.putBytes('loose-file', 'not a backup either');
	return {now, b10, b8, b5, b3, b1, crashed, tampered};
}

describe.each(implementations)('backup catalogue: $name', ({open}) => {
	let target: BackupTarget;
	let seeded: Seeded;
	beforeEach(async () => {
		target = await open();
		seeded = await seed(target);
	});

	const allKeys = async () => (await target.list('')).map(object => object.key).sort();

	it('lists backups newest first with age, size, components and last verification', async () => {
		const {now, b10, b8, b5, b3, b1, crashed, tampered} = seeded;
		const catalogue = await listBackups(target, {now});

		expect(catalogue.backups.map(backup => backup.id)).toEqual([b1, b3, b5, b8, b10]);
		const [newest] = catalogue.backups;
		expect(newest).toMatchObject({id: b1, bytes: 550, components: ['postgres', 'redis'], lastVerification: null});
		// Age runs from the end of the backup (it took an hour).
		expect(newest?.ageMs).toBe(DAY - 3_600_000);
		expect(newest?.manifest.id).toBe(b1);
		expect(newest?.startedAt).toBe(new Date(now.getTime() - DAY).toISOString());

		const byId = new Map(catalogue.backups.map(backup => [backup.id, backup]));
		expect(byId.get(b8)).toMatchObject({bytes: 200, components: ['postgres'], lastVerification: {ok: true, drill: true, verifiedAt: new Date(now.getTime() - 7 * DAY).toISOString()}});
		expect(byId.get(b5)).toMatchObject({bytes: 300, components: ['redis'], lastVerification: null});
		expect(byId.get(b3)?.lastVerification).toEqual({ok: false, drill: false, verifiedAt: new Date(now.getTime() - 2 * DAY).toISOString()});
		expect(byId.get(b10)?.ageMs).toBe(10 * DAY - 90_000);

		// No manifest: not a backup, listed apart. A tampered manifest: a problem, not a backup.
		expect(catalogue.incomplete).toEqual([expect.objectContaining({id: crashed, objects: 1, bytes: 'half a dump'.length})]);
		// Sorted by key: the older id first.
		expect(catalogue.problems).toEqual([
			expect.objectContaining({id: tampered, key: manifestKey(tampered), kind: 'manifest-invalid', message: expect.stringContaining('checksum mismatch')}),
			expect.objectContaining({id: b1, kind: 'verification-invalid', message: expect.stringContaining('not JSON')}),
		]);
	});

	it('reads one backup and its verification records, and refuses folders that are not backups', async () => {
		const {b3, crashed, tampered} = seeded;
		expect((await readBackup(target, b3)).id).toBe(b3);
		const {records, problems} = await readVerificationRecords(target, b3);
		expect(records.map(record => record.ok)).toEqual([false, true]);
		expect(problems).toEqual([]);

		await expect(readBackup(target, crashed)).rejects.toMatchObject({code: 'E_BACKUP_NOT_FOUND', message: expect.stringContaining('has no manifest')});
		await expect(readBackup(target, '20200101T000000Z-000000')).rejects.toMatchObject({code: 'E_BACKUP_NOT_FOUND', message: expect.stringContaining('There is no backup')});
		await expect(readBackup(target, tampered)).rejects.toMatchObject({code: 'E_MANIFEST_INVALID'});
	});

	it('prune --keep-last 2 keeps the two newest and the newest verified one; --dry-run deletes nothing', async () => {
		const {now, b10, b8, b5, b3, b1, crashed, tampered} = seeded;
		const before = await allKeys();
		const plan = await pruneBackups(target, {keepLast: 2, dryRun: true, now});
		expect(plan.dryRun).toBe(true);
		expect(plan.deleted.sort()).toEqual([b10, b5, crashed].sort());
		expect(plan.kept.sort()).toEqual([b1, b3, b8, tampered].sort());
		expect(plan.reasons[b1]).toContain('among the 2 newest');
		expect(plan.reasons[b8]).toContain('newest verified backup');
		expect(plan.reasons[b5]).toContain('not among the 2 newest');
		expect(plan.reasons[crashed]).toContain('no manifest');
		expect(plan.reasons[tampered]).toContain('invalid manifest');
		expect(await allKeys()).toEqual(before);

		const done = await pruneBackups(target, {keepLast: 2, now});
		expect({kept: done.kept.sort(), deleted: done.deleted.sort()}).toEqual({kept: plan.kept, deleted: plan.deleted});
		const after = await allKeys();
		for (const gone of [b10, b5, crashed]) {
			expect(after.filter(key => key.startsWith(`${gone}/`)), gone).toEqual([]);
		}

		expect((await listBackups(target, {now})).backups.map(backup => backup.id)).toEqual([b1, b3, b8]);
		// Not msdb's, or kept for investigation: untouched.
		expect(after).toEqual(expect.arrayContaining(['notes/readme.txt', 'loose-file', manifestKey(tampered)]));
	});

	it('prune --keep-days keeps recent backups; either rule keeping a backup keeps it', async () => {
		const {now, b10, b8, b5, b3, b1, crashed} = seeded;
		const byDays = await pruneBackups(target, {keepDays: 4, dryRun: true, now});
		expect(byDays.deleted.sort()).toEqual([b10, b5, crashed].sort());
		expect(byDays.reasons[b3]).toContain('within keep-days 4');
		expect(byDays.reasons[b10]).toContain('beyond keep-days 4');

		const both = await pruneBackups(target, {keepLast: 4, keepDays: 2, now});
		expect(both.deleted.sort()).toEqual([b10, crashed].sort());
		expect(both.kept).toEqual(expect.arrayContaining([b1, b3, b5, b8]));
		expect(both.reasons[b1]).toContain('among the 4 newest; ');
		expect(both.reasons[b1]).toContain('within keep-days 2');
		expect((await listBackups(target, {now})).backups.map(backup => backup.id)).toEqual([b1, b3, b5, b8]);
	});

	it('leaves a folder without a manifest alone while a run may still be writing it', async () => {
		const {crashed} = seeded;
		const result = await pruneBackups(target, {keepLast: 10, dryRun: true});
		expect(result.deleted).toEqual([]);
		expect(result.reasons[crashed]).toContain('possibly a run in progress');
	});

	it('deletes a backup manifest first, so an interrupted prune never leaves a backup with missing artifacts', async () => {
		const {now, b10} = seeded;
		const calls: string[] = [];
		const recording: BackupTarget = new Proxy(target, {
			get(object, property, receiver) {
				const value = Reflect.get(object, property, receiver) as unknown;
				if (property === 'deletePrefix' && typeof value === 'function') {
					return async (prefix: string) => {
						calls.push(prefix);
						return (value as (prefix: string) => Promise<number>).call(object, prefix);
					};
				}

				return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
			},
		});
		await pruneBackups(recording, {keepLast: 4, now});
		expect(calls.filter(prefix => prefix.startsWith(b10))).toEqual([manifestKey(b10), `${b10}/`]);
	});

	it('refuses to prune without a usable retention rule', async () => {
		await expect(pruneBackups(target, {})).rejects.toMatchObject({code: 'E_BAD_ARGUMENT', exitCode: 2});
		await expect(pruneBackups(target, {keepLast: 0})).rejects.toMatchObject({code: 'E_BAD_ARGUMENT', message: expect.stringContaining('--keep-last')});
		await expect(pruneBackups(target, {keepDays: -1})).rejects.toMatchObject({code: 'E_BAD_ARGUMENT', message: expect.stringContaining('--keep-days')});
		expect((await listBackups(target)).backups).toHaveLength(5);
	});
});
