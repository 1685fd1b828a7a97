/**
 * newestPassingDrill: the one place `msdb health`, `msdb metrics` and the console find a
 * target's newest passing restore drill, over a directory target seeded as backup verify leaves
 * it. A drill behind a later plain verify counts; older backups' records are read only while
 * they could hold a newer drill; a memo spares a poller the records it has already read.
 */
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {listBackups, writeVerificationRecord} from '../source/core/backup/backup-catalogue.js';
import {manifestKey, newBackupId, serializeManifest} from '../source/core/backup/backup-manifest.js';
import type {ListedObject} from '../source/core/backup/backup-target.js';
import {newestPassingDrill, type DrillMemo} from '../source/core/backup/restore-drills.js';
import {DirectoryTarget} from '../source/core/backup/targets/directory-target.js';
import {sampleManifest, sampleVerification} from './support/backup-fixtures.js';

const HOUR = 3_600_000;
const NOW = Date.now();

/** Counts the listings of one backup's verification records (what reading its records costs). */
class CountingTarget extends DirectoryTarget {
	readonly recordListings: string[] = [];

	override async list(prefix: string): Promise<ListedObject[]> {
		if (prefix.includes('/verification-')) {
			this.recordListings.push(prefix.split('/')[0] ?? prefix);
		}

		return super.list(prefix);
	}
}

describe('newestPassingDrill', () => {
	let root: string;
	let target: CountingTarget;
	/** Newest first: drilled then plain-verified; drilled 30 h ago (its newest record); never verified. */
	let ids: {hidden: string; drilled: string; unverified: string};

	beforeAll(async () => {
		root = await mkdtemp(path.join(tmpdir(), 'msdb-drills-'));
		target = new CountingTarget(root);
		const seed = async (hoursAgo: number) => {
			const id = newBackupId(new Date(NOW - hoursAgo * HOUR));
			await target.putBytes(manifestKey(id), serializeManifest(sampleManifest(id, {startedAt: new Date(NOW - hoursAgo * HOUR)})).json);
			return id;
		};

		ids = {hidden: await seed(10), drilled: await seed(48), unverified: await seed(72)};
		await writeVerificationRecord(target, sampleVerification(ids.hidden, new Date(NOW - 8 * HOUR), true, true));
		await writeVerificationRecord(target, sampleVerification(ids.hidden, new Date(NOW - 2 * HOUR), true, false));
		await writeVerificationRecord(target, sampleVerification(ids.drilled, new Date(NOW - 40 * HOUR), false, true));
		await writeVerificationRecord(target, sampleVerification(ids.drilled, new Date(NOW - 30 * HOUR), true, true));
	});

	afterAll(async () => {
		await rm(root, {recursive: true, force: true});
	});

	it('finds a drill behind a later plain verify, reading only the records that could beat it', async () => {
		const catalogue = await listBackups(target);
		target.recordListings.length = 0;
		expect(await newestPassingDrill(target, catalogue)).toEqual({backupId: ids.hidden, verifiedAt: new Date(NOW - 8 * HOUR).toISOString()});
		// The drilled backup's newest record (30 h) is older than the drill found (8 h): not read.
		expect(target.recordListings).toEqual([ids.hidden]);
	});

	it('counts only drills since `since` (msdb health --max-restore-age)', async () => {
		const catalogue = await listBackups(target);
		expect(await newestPassingDrill(target, catalogue, {since: NOW - 4 * HOUR})).toBeUndefined();
		expect(await newestPassingDrill(target, catalogue, {since: NOW - 9 * HOUR})).toMatchObject({backupId: ids.hidden});
	});

	it('with a memo, reads a backup’s records again only when it has a new one, and forgets backups that are gone', async () => {
		const memo: DrillMemo = new Map();
		const catalogue = await listBackups(target);
		await newestPassingDrill(target, catalogue, {memo});
		target.recordListings.length = 0;
		expect(await newestPassingDrill(target, catalogue, {memo})).toMatchObject({backupId: ids.hidden});
		expect(target.recordListings).toEqual([]);

		// A newer plain verify: the newest record changed, so the records are read again.
		await writeVerificationRecord(target, sampleVerification(ids.hidden, new Date(NOW - HOUR), true, false));
		expect(await newestPassingDrill(target, await listBackups(target), {memo})).toMatchObject({backupId: ids.hidden});
		expect(target.recordListings).toEqual([ids.hidden]);

		memo.set('20000101T000000Z-gone00', {newestVerifiedAt: new Date(0).toISOString(), drill: undefined});
		await newestPassingDrill(target, await listBackups(target), {memo});
		expect([...memo.keys()]).toEqual([ids.hidden]);
	});
});
