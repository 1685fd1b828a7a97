import {realpath} from 'node:fs/promises';
import path from 'node:path';
import {execa} from 'execa';
import {ActionableError} from '../../errors.js';
import {isExecutable, parsePostgresVersion, postgresBinDirectories} from '../../provision/postgres-binaries.js';

/** One installed PostgreSQL client program and its version. */
export type PgTool = {
	name: PgToolName;
	/** Absolute path (as found, symlinks kept: a dispatcher like Debian's pg_wrapper decides by its own name). */
	path: string;
	/** `15.20` */
	version: string;
	majorVersion: number;
};

export type PgToolName = 'pg_dump' | 'pg_restore';

async function describe(name: PgToolName, file: string): Promise<PgTool | undefined> {
	const result = await execa(file, ['--version'], {reject: false, timeout: 10_000, stdin: 'ignore'});
	const parsed = result.exitCode === 0 ? parsePostgresVersion(String(result.stdout)) : undefined;
	return parsed ? {name, path: file, ...parsed} : undefined;
}

/**
 * Every usable `pg_dump` / `pg_restore`: in `binDirectory` only when given, else on PATH and in
 * /usr/lib/postgresql/<major>/bin. Copies that are the same file are listed once.
 */
export async function findPgTools(name: PgToolName, options: {binDirectory?: string | undefined; env?: NodeJS.ProcessEnv} = {}): Promise<PgTool[]> {
	const directories = options.binDirectory ? [options.binDirectory] : await postgresBinDirectories(options.env ?? process.env);
	const seen = new Set<string>();
	const programs: string[] = [];
	const dispatchers: string[] = [];
	for (const directory of directories) {
		const file = path.resolve(directory, name);
		if (!(await isExecutable(file))) {
			continue;
		}

		const real = await realpath(file);
		// Debian's /usr/bin/pg_dump is pg_wrapper, a Perl script that picks one of the real programs
		// in /usr/lib/postgresql/*/bin, which are candidates themselves: asking it costs a Perl
		// start per call and adds nothing, so it is only used when no real program is found.
		const dispatcher = path.basename(real) !== name;
		const identity = dispatcher ? file : real;
		if (!seen.has(identity)) {
			seen.add(identity);
			(dispatcher ? dispatchers : programs).push(file);
		}
	}

	const described = await Promise.all((programs.length > 0 ? programs : dispatchers).map(async file => describe(name, file)));
	return described.filter(tool => tool !== undefined);
}

/**
 * The program to use. pg_dump: the one of the server's own major version when there is one
 * (PostgreSQL does not promise that a newer pg_dump's output loads into an older server), else
 * the newest. pg_restore: the newest (it reads every older archive format).
 */
export async function selectPgTool(
	name: PgToolName,
	options: {binDirectory?: string | undefined; preferMajor?: number | undefined; env?: NodeJS.ProcessEnv; found?: Promise<PgTool[]>} = {},
): Promise<PgTool> {
	// `found`: a search the caller started earlier (findPgTools does not depend on the server, so
	// a backup looks for pg_dump while it connects).
	const tools = await (options.found ?? findPgTools(name, options));
	const exact = options.preferMajor === undefined ? undefined : tools.find(tool => tool.majorVersion === options.preferMajor);
	// sort is stable: PATH order survives among equal majors.
	const newest = [...tools].sort((a, b) => b.majorVersion - a.majorVersion)[0];
	const chosen = exact ?? newest;
	if (!chosen) {
		const where = options.binDirectory ? `in ${options.binDirectory}` : 'on PATH or under /usr/lib/postgresql/*/bin';
		throw new ActionableError('E_PG_TOOL_MISSING', `Cannot find ${name} ${where}.`, {
			nextStep: 'Install the PostgreSQL client programs of your server\'s major version or newer (e.g. apt-get install postgresql-client-16), or point msdb at their directory.',
			details: {program: name},
		});
	}

	return chosen;
}
