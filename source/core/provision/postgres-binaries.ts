import {constants} from 'node:fs';
import {access, readdir, realpath} from 'node:fs/promises';
import path from 'node:path';
import {runCommand} from './run-command.js';

/** The PostgreSQL server programs of one installation. */
export type PostgresBinaries = {
	/** The directory the programs really live in (symlinks resolved). */
	binDirectory: string;
	initdb: string;
	postgres: string;
	/** Not needed to run a private server (we spawn `postgres` directly), reported for tools. */
	pgCtl: string | undefined;
	/** e.g. `15.20` */
	version: string;
	majorVersion: number;
};

/** Debian/Ubuntu keep server binaries off PATH, one directory per major version. */
const DEBIAN_POSTGRES_ROOT = '/usr/lib/postgresql';

/** Parses `postgres (PostgreSQL) 15.20 (Debian …)` / `pg_dump (PostgreSQL) 16.4`. */
export function parsePostgresVersion(text: string): {version: string; majorVersion: number} | undefined {
	const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(text);
	if (!match?.[1]) {
		return undefined;
	}

	// Before 10 the major version had two parts (9.6); none of those can run our SQL anyway.
	return {version: match[2] === undefined ? match[1] : `${match[1]}.${match[2]}`, majorVersion: Number(match[1])};
}

/** True when `file` exists and this user may run it. */
export async function isExecutable(file: string): Promise<boolean> {
	try {
		await access(file, constants.X_OK);
		return true;
	} catch {
		return false;
	}
}

async function versionOf(program: string): Promise<{version: string; majorVersion: number} | undefined> {
	// `--version` is answered before the refuse-to-run-as-root check, so this works as root.
	const result = await runCommand(program, ['--version'], {cwd: path.dirname(program), timeoutMs: 10_000});
	return result.ok ? parsePostgresVersion(result.output) : undefined;
}

/**
 * Where PostgreSQL programs may be, in order: PATH first, then the Debian/Ubuntu layout
 * (/usr/lib/postgresql/<major>/bin, which only puts a wrapper on PATH), newest major first.
 * Shared by the server binaries for tests and pg_dump / pg_restore for backups.
 */
export async function postgresBinDirectories(env: NodeJS.ProcessEnv): Promise<string[]> {
	const directories = (env['PATH'] ?? '').split(path.delimiter).filter(Boolean);
	try {
		const versions = await readdir(DEBIAN_POSTGRES_ROOT);
		const numeric = versions.filter(name => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a));
		directories.push(...numeric.map(name => path.join(DEBIAN_POSTGRES_ROOT, name, 'bin')));
	} catch {
		// No Debian layout here.
	}

	return directories;
}

/**
 * Finds `initdb` and `postgres` (and `pg_ctl`) on PATH or under /usr/lib/postgresql/<major>/bin.
 * When several installations exist, the highest major version wins (PATH breaks ties).
 * Returns undefined when there is none.
 */
export async function findPostgresBinaries(env: NodeJS.ProcessEnv = process.env): Promise<PostgresBinaries | undefined> {
	const seen = new Set<string>();
	const installations: Array<Promise<PostgresBinaries | undefined>> = [];
	for (const directory of await postgresBinDirectories(env)) {
		const initdb = path.join(directory, 'initdb');
		const postgres = path.join(directory, 'postgres');
		if (!(await isExecutable(initdb)) || !(await isExecutable(postgres))) {
			continue;
		}

		// /usr/local/bin/postgres is often a symlink into /usr/lib/postgresql/15/bin: one install.
		const realPostgres = await realpath(postgres);
		if (seen.has(realPostgres)) {
			continue;
		}

		seen.add(realPostgres);
		installations.push(
			(async () => {
				const version = await versionOf(realPostgres);
				if (!version) {
					return undefined;
				}

				const binDirectory = path.dirname(realPostgres);
				const pgCtl = path.join(directory, 'pg_ctl');
				return {
					binDirectory,
					initdb: await realpath(initdb),
					postgres: realPostgres,
					pgCtl: (await isExecutable(pgCtl)) ? await realpath(pgCtl) : undefined,
					...version,
				};
			})(),
		);
	}

	const found = (await Promise.all(installations)).filter(item => item !== undefined);
	// Array.prototype.sort is stable, so PATH order survives among equal majors.
	found.sort((a, b) => b.majorVersion - a.majorVersion);
	return found[0];
}

/**
 * The major version of the `pg_dump` msdb would use (PATH first, then the newest Debian one),
 * so a Docker server can be started at a version that pg_dump is able to dump.
 */
export async function findPgDumpMajorVersion(env: NodeJS.ProcessEnv = process.env): Promise<number | undefined> {
	for (const directory of await postgresBinDirectories(env)) {
		const pgDump = path.join(directory, 'pg_dump');
		if (await isExecutable(pgDump)) {
			const version = await versionOf(pgDump);
			if (version) {
				return version.majorVersion;
			}
		}
	}

	return undefined;
}
