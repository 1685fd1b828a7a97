import {execFile} from 'node:child_process';
import {readFile} from 'node:fs/promises';
import {promisify} from 'node:util';

const execFileAsync = promisify(execFile);

/** An operating-system account to run a server as. */
export type OsUser = {name: string; uid: number; gid: number};

/** True when this process runs as root (never on Windows, which has no getuid). */
export function isRoot(): boolean {
	return process.getuid?.() === 0;
}

/**
 * Looks an OS user up by name. `id` goes through NSS (LDAP, sssd …) like the login would;
 * /etc/passwd is the fallback for minimal images without coreutils' `id`.
 */
export async function lookupOsUser(name: string): Promise<OsUser | undefined> {
	try {
		const [uid, gid] = await Promise.all([
			execFileAsync('id', ['-u', name], {timeout: 5000}),
			execFileAsync('id', ['-g', name], {timeout: 5000}),
		]);
		return {name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim())};
	} catch {
		// Unknown user, or no `id` binary: try the file.
	}

	try {
		const passwd = await readFile('/etc/passwd', 'utf8');
		for (const line of passwd.split('\n')) {
			const [user, , uid, gid] = line.split(':');
			if (user === name && uid !== undefined && gid !== undefined) {
				return {name, uid: Number(uid), gid: Number(gid)};
			}
		}
	} catch {
		// No /etc/passwd either: the user does not exist as far as we can tell.
	}

	return undefined;
}
