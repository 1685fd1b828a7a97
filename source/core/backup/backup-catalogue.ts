import {ActionableError, MsdbError} from '../errors.js';
import {backupIdTime, isBackupId, MANIFEST_FILE_NAME, manifestKey, parseManifest, VERIFICATION_KEY_PATTERN, verificationKey} from './backup-manifest.js';
import type {BackupComponent, BackupManifest, VerificationRecord} from './backup-manifest-types.js';
import type {BackupTarget, ListedObject} from './backup-target.js';
import {parseVerificationRecord, serializeVerificationRecord} from './verification-record.js';

/**
 * What is in a backup target, and retention. A folder `<id>/` is a backup only when it holds a
 * manifest that passes every check; a folder without one is an unfinished (or crashed) run, and
 * a folder with a bad one is reported, never silently skipped or deleted.
 */

const DAY_MS = 86_400_000;
/**
 * A folder without a manifest younger than this may be a run still uploading: prune leaves it.
 * A day covers any backup msdb can take, and a crashed run's leftovers go on the next day's prune.
 */
export const DEFAULT_INCOMPLETE_GRACE_MS = DAY_MS;
/** Manifests read in parallel: enough to hide S3's latency, few enough to be polite. */
const READ_CONCURRENCY = 8;

/** One backup, as `msdb backup list` shows it. */
export type BackupSummary = {
	id: string;
	startedAt: string;
	finishedAt: string;
	/** Since `finishedAt`, at the time of listing. */
	ageMs: number;
	/** The artifacts' bytes, from the manifest. */
	bytes: number;
	components: BackupComponent[];
	/** The newest valid verification record, if any. */
	lastVerification: {verifiedAt: string; ok: boolean; drill: boolean} | null;
	manifest: BackupManifest;
};

/** A backup folder without a manifest: a run in progress, or one that died. */
export type IncompleteBackupFolder = {
	id: string;
	objects: number;
	bytes: number;
	/** The newest of the id's time and its objects' modification times. */
	lastActivityAt: string;
};

/** Something in the target that is not as it should be; listing and pruning go on around it. */
export type CatalogueProblem = {
	id: string;
	key: string;
	kind: 'manifest-invalid' | 'verification-invalid';
	message: string;
};

export type BackupCatalogue = {
	/** Newest first (by startedAt, then id). */
	backups: BackupSummary[];
	/** Folders with no manifest (oldest activity first). Not backups. */
	incomplete: IncompleteBackupFolder[];
	problems: CatalogueProblem[];
};

/** Lists the backups in `target`, newest first; see {@link BackupCatalogue}. */
export async function listBackups(target: BackupTarget, options: {now?: Date} = {}): Promise<BackupCatalogue> {
	const now = (options.now ?? new Date()).getTime();
	const folders = groupByBackupFolder(await target.list(''));
	const problems: CatalogueProblem[] = [];
	const backups: BackupSummary[] = [];
	const incomplete: IncompleteBackupFolder[] = [];
	await forEachLimited([...folders], READ_CONCURRENCY, async ([id, objects]) => {
		const names = new Set(objects.map(object => object.key.slice(id.length + 1)));
		if (!names.has(MANIFEST_FILE_NAME)) {
			incomplete.push(incompleteFolder(id, objects));
			return;
		}

		const manifest = await readManifestOrProblem(target, id, problems);
		if (manifest === undefined) {
			return;
		}

		const verificationKeys = [...names].filter(name => VERIFICATION_KEY_PATTERN.test(name)).map(name => `${id}/${name}`);
		const last = await newestVerification(target, id, verificationKeys, problems);
		backups.push({
			id,
			startedAt: manifest.startedAt,
			finishedAt: manifest.finishedAt,
			ageMs: now - Date.parse(manifest.finishedAt),
			bytes: (manifest.postgres?.artifact.bytes ?? 0) + (manifest.redis?.artifact.bytes ?? 0),
			components: manifest.components,
			lastVerification: last ? {verifiedAt: last.verifiedAt, ok: last.ok, drill: last.drill} : null,
			manifest,
		});
	});
	backups.sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
	incomplete.sort((a, b) => Date.parse(a.lastActivityAt) - Date.parse(b.lastActivityAt));
	problems.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
	return {backups, incomplete, problems};
}

/**
 * The manifest of backup `id`, checked ({@link parseManifest}). E_BACKUP_NOT_FOUND when the
 * folder has no manifest (no such backup, or an unfinished run); E_MANIFEST_INVALID when it
 * fails a check.
 */
export async function readBackup(target: BackupTarget, id: string): Promise<BackupManifest> {
	const key = manifestKey(id);
	let bytes: Buffer;
	try {
		bytes = await target.getBytes(key);
	} catch (error) {
		if (error instanceof MsdbError && error.code === 'E_BACKUP_OBJECT_NOT_FOUND') {
			const leftovers = await target.list(`${id}/`);
			throw new ActionableError(
				'E_BACKUP_NOT_FOUND',
				leftovers.length > 0
					? `Backup ${id} in ${target.display} has no manifest: it is an unfinished or failed run (${leftovers.length} object(s) without a manifest), not a backup.`
					: `There is no backup ${id} in ${target.display}.`,
				{nextStep: `\`msdb backup list --target ${target.display}\` shows the backups there.`, details: {id, target: target.display}},
			);
		}

		throw error;
	}

	return parseManifest(bytes, {expectedId: id, source: `${target.display}/${key}`});
}

/** Every verification record of backup `id`, newest first; unreadable ones are reported in `problems`. */
export async function readVerificationRecords(
	target: BackupTarget,
	id: string,
): Promise<{records: VerificationRecord[]; problems: CatalogueProblem[]}> {
	manifestKey(id); // Validates the id.
	const keys = (await target.list(`${id}/verification-`))
		.map(object => object.key)
		.filter(key => VERIFICATION_KEY_PATTERN.test(key.slice(id.length + 1)))
		.sort()
		.reverse();
	const problems: CatalogueProblem[] = [];
	const records: VerificationRecord[] = [];
	for (const key of keys) {
		const record = await readVerificationOrProblem(target, id, key, problems);
		if (record) {
			records.push(record);
		}
	}

	return {records, problems};
}

/** Stores a verification result beside the backup's manifest; returns its key. */
export async function writeVerificationRecord(target: BackupTarget, record: VerificationRecord): Promise<string> {
	const key = verificationKey(record.backupId, new Date(record.verifiedAt));
	await target.putBytes(key, serializeVerificationRecord(record));
	return key;
}

export type PruneOptions = {
	/** Keep this many newest backups (≥ 1). */
	keepLast?: number;
	/** Keep every backup that finished less than this many days ago (> 0). */
	keepDays?: number;
	/** Decide and report, delete nothing. */
	dryRun?: boolean;
	now?: Date;
	/** Folders without a manifest are deleted only once idle this long; default one day. */
	incompleteGraceMs?: number;
};

export type PruneResult = {
	dryRun: boolean;
	/** Ids kept: backups, and folders prune does not touch (invalid manifest, run in progress). */
	kept: string[];
	/** Ids deleted (or, with dryRun, that would be). */
	deleted: string[];
	/** Why, for every id in kept and deleted. */
	reasons: Record<string, string>;
	problems: CatalogueProblem[];
};

/**
 * Applies retention. A backup is kept when any rule says keep: it is among the `keepLast`
 * newest, it finished within `keepDays`, or it is the newest backup whose latest verification
 * passed (never deleted, whatever the numbers say: the one restore known to work). Folders
 * without a manifest idle longer than the grace period are deleted (with their unfinished
 * uploads); folders with an invalid manifest are never deleted automatically. A backup is
 * deleted manifest first, so an interrupted prune leaves a manifest-less folder (not a backup
 * that restore would trust), which the next prune removes.
 */
export async function pruneBackups(target: BackupTarget, options: PruneOptions): Promise<PruneResult> {
	const {keepLast, keepDays} = options;
	checkRetention(keepLast, keepDays);
	const now = options.now ?? new Date();
	const graceMs = options.incompleteGraceMs ?? DEFAULT_INCOMPLETE_GRACE_MS;
	const catalogue = await listBackups(target, {now});
	const result: PruneResult = {dryRun: options.dryRun === true, kept: [], deleted: [], reasons: {}, problems: catalogue.problems};
	const newestVerified = catalogue.backups.find(backup => backup.lastVerification?.ok === true);
	const doomedBackups: string[] = [];
	for (const [index, backup] of catalogue.backups.entries()) {
		const keep: string[] = [];
		if (keepLast !== undefined && index < keepLast) {
			keep.push(`among the ${keepLast} newest`);
		}

		if (keepDays !== undefined && backup.ageMs <= keepDays * DAY_MS) {
			keep.push(`${formatDays(backup.ageMs)} old, within keep-days ${keepDays}`);
		}

		if (backup === newestVerified) {
			keep.push(`the newest verified backup (verified ${backup.lastVerification?.verifiedAt})`);
		}

		if (keep.length > 0) {
			result.kept.push(backup.id);
			result.reasons[backup.id] = keep.join('; ');
		} else {
			doomedBackups.push(backup.id);
			result.deleted.push(backup.id);
			result.reasons[backup.id] = [
				keepLast === undefined ? undefined : `not among the ${keepLast} newest`,
				keepDays === undefined ? undefined : `${formatDays(backup.ageMs)} old, beyond keep-days ${keepDays}`,
				newestVerified ? 'not the newest verified backup' : 'no backup has a passing verification',
			]
				.filter(Boolean)
				.join('; ');
		}
	}

	for (const problem of catalogue.problems.filter(problem => problem.kind === 'manifest-invalid')) {
		result.kept.push(problem.id);
		result.reasons[problem.id] = `invalid manifest, kept for investigation (prune never deletes it): ${problem.message}`;
	}

	const doomedFolders: string[] = [];
	for (const folder of catalogue.incomplete) {
		const idleMs = now.getTime() - Date.parse(folder.lastActivityAt);
		if (idleMs > graceMs) {
			doomedFolders.push(folder.id);
			result.deleted.push(folder.id);
			result.reasons[folder.id] = `no manifest and idle for ${formatDays(idleMs)}: an unfinished or crashed run`;
		} else {
			result.kept.push(folder.id);
			result.reasons[folder.id] = `no manifest, but written to ${formatDays(idleMs)} ago: possibly a run in progress`;
		}
	}

	if (!result.dryRun) {
		for (const id of doomedBackups) {
			// Manifest first: from this point the folder is no longer a backup anyone would restore.
			await target.deletePrefix(manifestKey(id));
			await target.deletePrefix(`${id}/`);
		}

		for (const id of doomedFolders) {
			await target.deletePrefix(`${id}/`);
			await target.cleanupIncomplete(`${id}/`);
		}
	}

	return result;
}

function checkRetention(keepLast: number | undefined, keepDays: number | undefined): void {
	if (keepLast === undefined && keepDays === undefined) {
		throw new ActionableError('E_BAD_ARGUMENT', 'Prune needs a retention rule: --keep-last N and/or --keep-days D.', {
			nextStep: 'For example `msdb backup prune --keep-last 7 --keep-days 30 --dry-run` to see what would go.',
		});
	}

	if (keepLast !== undefined && (!Number.isInteger(keepLast) || keepLast < 1)) {
		throw new ActionableError('E_BAD_ARGUMENT', `--keep-last must be a whole number of at least 1, not ${keepLast}.`, {
			nextStep: 'Keeping zero backups is not a retention policy; delete a target by hand if that is really meant.',
			details: {keepLast},
		});
	}

	if (keepDays !== undefined && (!Number.isFinite(keepDays) || keepDays <= 0)) {
		throw new ActionableError('E_BAD_ARGUMENT', `--keep-days must be a positive number of days, not ${keepDays}.`, {details: {keepDays}});
	}
}

/** `<id>` → its objects, for top-level folders named like backup ids; anything else is not ours. */
function groupByBackupFolder(objects: ListedObject[]): Map<string, ListedObject[]> {
	const folders = new Map<string, ListedObject[]>();
	for (const object of objects) {
		const slash = object.key.indexOf('/');
		const id = slash === -1 ? '' : object.key.slice(0, slash);
		if (isBackupId(id)) {
			const list = folders.get(id) ?? [];
			list.push(object);
			folders.set(id, list);
		}
	}

	return folders;
}

function incompleteFolder(id: string, objects: ListedObject[]): IncompleteBackupFolder {
	const times = objects.map(object => object.modifiedAt.getTime());
	times.push(backupIdTime(id)?.getTime() ?? 0);
	return {
		id,
		objects: objects.length,
		bytes: objects.reduce((sum, object) => sum + object.size, 0),
		lastActivityAt: new Date(Math.max(...times)).toISOString(),
	};
}

async function readManifestOrProblem(target: BackupTarget, id: string, problems: CatalogueProblem[]): Promise<BackupManifest | undefined> {
	const key = manifestKey(id);
	try {
		return await readBackup(target, id);
	} catch (error) {
		if (error instanceof MsdbError && error.code === 'E_MANIFEST_INVALID') {
			problems.push({id, key, kind: 'manifest-invalid', message: error.message});
			return undefined;
		}

		// Deleted between list and read (a concurrent prune): it is gone, not a problem.
		if (error instanceof MsdbError && error.code === 'E_BACKUP_NOT_FOUND') {
			return undefined;
		}

		throw error;
	}
}

async function newestVerification(target: BackupTarget, id: string, keys: string[], problems: CatalogueProblem[]): Promise<VerificationRecord | undefined> {
	// Names carry the time, so the newest is the last in sort order; older ones are read only
	// when a newer one is unreadable.
	for (const key of keys.sort().reverse()) {
		const record = await readVerificationOrProblem(target, id, key, problems);
		if (record) {
			return record;
		}
	}

	return undefined;
}

async function readVerificationOrProblem(target: BackupTarget, id: string, key: string, problems: CatalogueProblem[]): Promise<VerificationRecord | undefined> {
	let record: VerificationRecord;
	try {
		record = parseVerificationRecord(await target.getBytes(key), `${target.display}/${key}`);
	} catch (error) {
		if (error instanceof MsdbError && error.code === 'E_BACKUP_OBJECT_NOT_FOUND') {
			return undefined;
		}

		if (error instanceof MsdbError && error.code === 'E_MANIFEST_INVALID') {
			problems.push({id, key, kind: 'verification-invalid', message: error.message});
			return undefined;
		}

		throw error;
	}

	if (record.backupId !== id) {
		problems.push({id, key, kind: 'verification-invalid', message: `Verification record ${key} is about backup ${record.backupId}, not ${id}.`});
		return undefined;
	}

	return record;
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
	let next = 0;
	const worker = async () => {
		while (next < items.length) {
			const item = items[next++] as T;
			await work(item);
		}
	};

	await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker));
}

function formatDays(ms: number): string {
	if (Math.abs(ms) < DAY_MS) {
		return `${(ms / 3_600_000).toFixed(1)} h`;
	}

	return `${(ms / DAY_MS).toFixed(1)} days`;
}
