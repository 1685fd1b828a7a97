import {ActionableError} from '../errors.js';
import {isBackupId, MANIFEST_FILE_NAME} from './backup-manifest.js';

/**
 * What `msdb restore` was pointed at: a backup id (in `--target` / MSDB_BACKUP_TARGET), or the
 * URL or path of a manifest (`s3://bucket/prefix/<id>/manifest.json`, `/backups/<id>/manifest.json`),
 * which names its own target. Returns the target URL to open and the backup id.
 */
export function resolveBackupReference(reference: string, defaultTarget: string | undefined): {targetUrl: string | undefined; id: string} {
	const trimmed = reference.trim();
	if (isBackupId(trimmed)) {
		return {targetUrl: defaultTarget, id: trimmed};
	}

	const parts = trimmed.replace(/\/+$/, '').split('/');
	const fileName = parts.at(-1);
	const id = parts.at(-2);
	if (fileName === MANIFEST_FILE_NAME && id !== undefined && isBackupId(id)) {
		const root = parts.slice(0, -2).join('/');
		return {targetUrl: root === '' ? '/' : root, id};
	}

	throw new ActionableError('E_BAD_ARGUMENT', `"${reference}" is neither a backup id nor the location of a manifest.`, {
		nextStep: `Pass an id such as 20261124T031500Z-1a2b3c (see \`msdb backup list\`), or a manifest: s3://bucket/prefix/<id>/${MANIFEST_FILE_NAME} or /path/<id>/${MANIFEST_FILE_NAME}.`,
		details: {reference},
	});
}
