import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {ActionableError} from '../../errors.js';
import {redact} from '../../redact.js';
import type {BackupTarget} from '../backup-target.js';
import {LazyTarget} from './lazy-target.js';
import {s3ClientSettingsFromEnvironment, type S3ClientSettings} from './s3-client-settings.js';
import {MIN_PART_SIZE_BYTES} from './s3-multipart.js';

const ACCEPTED_FORMS =
	'Accepted forms: s3://bucket/prefix (S3 or, with S3_ENDPOINT / AWS_ENDPOINT_URL_S3, an S3-compatible server), an absolute or relative directory path, or file:///absolute/path.';

/** S3 bucket names: 3–63 lowercase letters, digits, dots and hyphens, starting and ending alphanumeric. */
const BUCKET_NAME = /^[a-z\d][a-z\d.-]{1,61}[a-z\d]$/;

/**
 * Opens the backup target named by `--target` / `MSDB_BACKUP_TARGET`:
 * - `s3://bucket[/prefix]`: S3 through the AWS credential chain; `S3_ENDPOINT` or
 *   `AWS_ENDPOINT_URL_S3` select an S3-compatible server (path-style), `AWS_REGION` the region
 *   (default us-east-1), `MSDB_S3_PART_SIZE_MIB` the multipart part size (default 8, min 5);
 * - `file:///path`, or any other string: a local directory, relative to the working directory.
 *
 * Nothing is contacted here; a bad value is refused with E_BACKUP_TARGET_INVALID naming it and
 * the accepted forms.
 */
export function openBackupTarget(url: string, env: NodeJS.ProcessEnv = process.env): BackupTarget {
	const value = url.trim();
	if (value === '') {
		throw invalidTarget(value, 'it is empty', 'Pass --target or set MSDB_BACKUP_TARGET.');
	}

	const scheme = /^([a-z][a-z\d+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
	if (scheme === 's3') {
		return openS3Target(value, env);
	}

	if (scheme === 'file') {
		let directory: string;
		try {
			directory = fileURLToPath(value);
		} catch (error) {
			throw invalidTarget(value, `it is not a usable file URL (${(error as Error).message})`);
		}

		return directoryTarget(directory);
	}

	if (scheme !== undefined) {
		throw invalidTarget(value, `msdb does not store backups over ${scheme}://`);
	}

	if (value.includes('\0')) {
		throw invalidTarget(value, 'it contains a NUL character');
	}

	return directoryTarget(value);
}

function directoryTarget(directory: string): LazyTarget {
	const root = path.resolve(directory);
	return new LazyTarget(root, async () => new (await import('./directory-target.js')).DirectoryTarget(root));
}

function openS3Target(value: string, env: NodeJS.ProcessEnv): LazyTarget {
	// Parsed by hand: URL() would accept user:password@ and lowercase nothing we can rely on here.
	const match = /^s3:\/\/([^/?#]*)(\/[^?#]*)?$/i.exec(value);
	if (!match) {
		throw invalidTarget(value, 'an s3:// URL takes no query string or fragment');
	}

	const bucket = match[1] ?? '';
	if (bucket.includes('@')) {
		// Never echo the part before @: it would be a key id and secret.
		throw invalidTarget(`s3://***@${bucket.slice(bucket.lastIndexOf('@') + 1)}${match[2] ?? ''}`, 'credentials do not belong in the URL; use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a profile');
	}

	if (!BUCKET_NAME.test(bucket)) {
		throw invalidTarget(value, bucket === '' ? 'it names no bucket' : `"${bucket}" is not a valid bucket name (3–63 lowercase letters, digits, dots and hyphens)`);
	}

	const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
	if (prefix !== '' && prefix.split('/').some(segment => segment === '' || segment === '.' || segment === '..')) {
		throw invalidTarget(value, 'its prefix has an empty, "." or ".." segment');
	}

	const settings = s3ClientSettingsFromEnvironment(env);
	const partSizeBytes = partSizeFromEnvironment(env);
	return new LazyTarget(`s3://${bucket}${prefix ? `/${prefix}` : ''}`, async () => loadS3Target({settings, bucket, prefix, partSizeBytes}));
}

async function loadS3Target(options: {settings: S3ClientSettings; bucket: string; prefix: string; partSizeBytes: number | undefined}): Promise<BackupTarget> {
	const [{S3Target}, {createS3Client}] = await Promise.all([import('./s3-target.js'), import('./s3-client.js')]);
	return new S3Target({
		client: createS3Client(options.settings),
		bucket: options.bucket,
		prefix: options.prefix,
		...(options.settings.endpoint ? {endpoint: options.settings.endpoint} : {}),
		...(options.partSizeBytes === undefined ? {} : {partSizeBytes: options.partSizeBytes}),
	});
}

function partSizeFromEnvironment(env: NodeJS.ProcessEnv): number | undefined {
	const raw = env['MSDB_S3_PART_SIZE_MIB']?.trim();
	if (!raw) {
		return undefined;
	}

	const mebibytes = Number(raw);
	if (!Number.isInteger(mebibytes) || mebibytes * 1024 * 1024 < MIN_PART_SIZE_BYTES || mebibytes > 5 * 1024) {
		throw new ActionableError('E_BACKUP_TARGET_INVALID', `MSDB_S3_PART_SIZE_MIB=${raw} is not a part size msdb can use.`, {
			nextStep: 'Set a whole number of MiB from 5 to 5120; each upload buffers about 5 parts, and S3 allows 10,000 parts per object.',
			details: {variable: 'MSDB_S3_PART_SIZE_MIB'},
		});
	}

	return mebibytes * 1024 * 1024;
}

function invalidTarget(shown: string, problem: string, nextStep = ACCEPTED_FORMS): ActionableError {
	return new ActionableError('E_BACKUP_TARGET_INVALID', `Backup target ${JSON.stringify(redact(shown))} is not usable: ${problem}.`, {
		nextStep: nextStep === ACCEPTED_FORMS ? ACCEPTED_FORMS : `${nextStep} ${ACCEPTED_FORMS}`,
		details: {acceptedForms: ['s3://bucket/prefix', '/absolute/directory', 'relative/directory', 'file:///absolute/directory']},
	});
}
