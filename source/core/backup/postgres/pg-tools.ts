import {realpath} from 'node:fs/promises';
import path from 'node:path';
import {ActionableError} from '../../errors.js';
import {isExecutable, parsePostgresVersion, postgresBinDirectories} from '../../provision/postgres-binaries.js';
import {findOnPath} from '../../provision/find-on-path.js';
import {runCommand} from '../../provision/run-command.js';

/** One installed PostgreSQL client program and its version. */
export type PgTool = {
	name: PgToolName;
	/** Absolute path (as found, symlinks kept: a dispatcher like Debian's pg_wrapper decides by its own name). */
	path: string;
	/** `15.20` */
	version: string;
	majorVersion: number;
	/** coreutils' stdbuf, when it is installed and has been seen to run this program: see pgToolCommand. */
	stdbuf?: string | undefined;
};

export type PgToolName = 'pg_dump' | 'pg_restore';

/**
 * How much of its output a program run through stdbuf keeps before writing. pg_dump writes its
 * archive through stdio, whose buffer for a pipe is 4 KiB: a 14 MB dump reaches msdb in ~3,400
 * pieces, and each wakes the event loop on a 2-core machine where pg_dump and its server backend
 * already want both cores. 256 KiB pieces cut that to ~60, which measurably shortens the dump
 * (npm run bench), and still report progress several times a second.
 */
const STDBUF_OUTPUT_BYTES = '256K';

async function describe(name: PgToolName, file: string, stdbuf: string | undefined): Promise<PgTool | undefined> {
	const versionOf = async (command: string, args: string[]) => {
		const result = await runCommand(command, args, {cwd: path.dirname(file), timeoutMs: 10_000});
		return result.ok ? parsePostgresVersion(result.output) : undefined;
	};

	// Asked through stdbuf, the one probe also proves that stdbuf can run this program (its
	// LD_PRELOAD library may be missing, or the program static); if not, it is asked plainly.
	const throughStdbuf = stdbuf ? await versionOf(stdbuf, [`-o${STDBUF_OUTPUT_BYTES}`, file, '--version']) : undefined;
	if (throughStdbuf) {
		return {name, path: file, ...throughStdbuf, stdbuf};
	}

	const parsed = await versionOf(file, ['--version']);
	return parsed ? {name, path: file, ...parsed} : undefined;
}

/**
 * The command line that runs `tool` with `args`. With `bufferedStdout`, through stdbuf when the
 * tool was seen to work with it, so its stdout reaches a pipe in large pieces (STDBUF_OUTPUT_BYTES).
 * stdbuf execs the program in its own process: its exit status, signals and kill() are the
 * program's own.
 */
export function pgToolCommand(tool: PgTool, args: readonly string[], options: {bufferedStdout?: boolean} = {}): {file: string; args: string[]} {
	return options.bufferedStdout && tool.stdbuf
		? {file: tool.stdbuf, args: [`-o${STDBUF_OUTPUT_BYTES}`, tool.path, ...args]}
		: {file: tool.path, args: [...args]};
}

/**
 * Every usable `pg_dump` / `pg_restore`: in `binDirectory` only when given, else on PATH and in
 * /usr/lib/postgresql/<major>/bin. Copies that are the same file are listed once.
 */
export async function findPgTools(name: PgToolName, options: {binDirectory?: string | undefined; env?: NodeJS.ProcessEnv} = {}): Promise<PgTool[]> {
	const env = options.env ?? process.env;
	// coreutils' stdbuf (absent on macOS and busybox systems: then programs run as they are).
	const stdbufSearch = findOnPath('stdbuf', env);
	const directories = options.binDirectory ? [options.binDirectory] : await postgresBinDirectories(env);
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

	const stdbuf = await stdbufSearch;
	const described = await Promise.all((programs.length > 0 ? programs : dispatchers).map(async file => describe(name, file, stdbuf)));
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
