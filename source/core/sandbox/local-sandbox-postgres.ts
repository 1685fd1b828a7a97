/**
 * The sandbox's PostgreSQL from local binaries: a data directory kept in
 * `.msdb/sandbox/postgres/`, a server started by `pg_ctl start` (a daemon that outlives msdb) on
 * 127.0.0.1 only, stopped by `pg_ctl stop`. As root it runs as the `postgres` OS user, as the
 * test servers do (PostgreSQL refuses root).
 */
import {appendFile, chown, mkdir, readFile, realpath, stat} from 'node:fs/promises';
import {execa} from 'execa';
import pg from 'pg';
import {ActionableError} from '../errors.js';
import {redact} from '../redact.js';
import {resolveRunAs} from '../provision/local-postgres.js';
import type {OsUser} from '../provision/os-user.js';
import {findPostgresBinaries, type PostgresBinaries} from '../provision/postgres-binaries.js';
import {isProcessAlive} from './process-control.js';
import {logSize, logTail, pickPort, portWasTaken, startFailure, type SandboxContext, type ServiceProbe} from './sandbox-service.js';

/** The port tried first, so DATABASE_URL is the same on every machine that has it free. */
export const SANDBOX_POSTGRES_PORT = 55432;

/** The database the sandbox creates for msdb (DATABASE_URL points at it). */
export const SANDBOX_DATABASE = 'msdb';

const PORT_ATTEMPTS = 3;
const START_TIMEOUT_SECONDS = 60;
const NEXT_STEP = 'Read the log above; `msdb sandbox down --purge` starts over with fresh data; MSDB_SANDBOX_DOCKER=1 uses Docker instead.';

// Appended to postgresql.conf once, after initdb. No Unix socket: the default directory may
// belong to a system server, and a socket path under a deep working directory can exceed the
// 107-byte limit; clients connect over TCP. synchronous_commit off: a developer's sandbox may
// lose its last few commits in a crash, never its consistency.
const SANDBOX_SETTINGS = `
# Added by msdb sandbox
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
synchronous_commit = off
`;

type Installation = {binaries: PostgresBinaries; pgCtl: string; runAs: OsUser | undefined};

async function installation(context: SandboxContext): Promise<Installation> {
	const binaries = await findPostgresBinaries(context.env);
	if (!binaries?.pgCtl) {
		throw new ActionableError(
			'E_SERVICE_UNAVAILABLE',
			'Cannot start the sandbox PostgreSQL: no initdb/postgres/pg_ctl found on PATH or under /usr/lib/postgresql/*/bin.',
			{nextStep: 'Install the PostgreSQL server package (e.g. apt-get install postgresql), or start Docker and run `msdb sandbox up` again (MSDB_SANDBOX_DOCKER=1).'},
		);
	}

	return {binaries, pgCtl: binaries.pgCtl, runAs: await resolveRunAs('postgres')};
}

/** The server's pid from postmaster.pid, if the file is there. */
async function postmasterPid(dataDirectory: string): Promise<number | undefined> {
	try {
		const pid = Number((await readFile(`${dataDirectory}/postmaster.pid`, 'utf8')).split('\n')[0]);
		return Number.isInteger(pid) && pid > 0 ? pid : undefined;
	} catch {
		return undefined;
	}
}

/** A superuser connection to the maintenance database of the server on `port`. */
export function sandboxPostgresClient(port: number, database = 'postgres', password?: string): pg.Client {
	// ssl: false so a PGSSLMODE in the environment cannot make us ask our own server for TLS.
	return new pg.Client({
		host: '127.0.0.1',
		port,
		user: 'postgres',
		database,
		ssl: false,
		connectionTimeoutMillis: 2000,
		...(password === undefined ? {} : {password}),
	});
}

/** Is the server on `port` this sandbox's (same data directory), and does it answer? */
export async function probeSandboxPostgres(context: SandboxContext, port: number | undefined): Promise<ServiceProbe> {
	const pid = await postmasterPid(context.paths.postgresData);
	const alive = pid !== undefined && isProcessAlive(pid);
	if (port === undefined) {
		return {up: false, pid: null, detail: 'never started here'};
	}

	const client = sandboxPostgresClient(port);
	try {
		await client.connect();
		const {rows} = await client.query<{dir: string}>("SELECT current_setting('data_directory') AS dir");
		const served = rows[0]?.dir ?? '';
		const ours = await realpath(context.paths.postgresData).catch(() => context.paths.postgresData);
		const theirs = await realpath(served).catch(() => served);
		if (ours !== theirs) {
			return {up: false, pid: null, detail: `port ${port} answers, but that server's data directory is ${served}`};
		}

		return {up: true, pid: pid ?? null, detail: 'answers'};
	} catch (error) {
		const reason = redact(error instanceof Error ? error.message : String(error));
		return {up: false, pid: alive ? pid : null, detail: alive ? `pid ${pid} is running but does not answer on port ${port}: ${reason}` : 'not running'};
	} finally {
		await client.end().catch(() => {});
	}
}

async function runAsServerUser(installation: Installation, command: string, args: string[], context: SandboxContext) {
	return execa(command, args, {
		cwd: context.paths.postgresData,
		// LC_ALL=C: English messages in logs and errors.
		env: {...context.env, LC_ALL: 'C'},
		extendEnv: false,
		reject: false,
		all: true,
		stdin: 'ignore',
		timeout: (START_TIMEOUT_SECONDS + 30) * 1000,
		// Its own session: a Ctrl-C in the terminal that ran `msdb sandbox up` must not reach the server.
		detached: true,
		...(installation.runAs ? {uid: installation.runAs.uid, gid: installation.runAs.gid} : {}),
	});
}

/** The data directory and log, created (and handed to the server user) on first use. */
async function prepareDirectories(context: SandboxContext, runAs: OsUser | undefined): Promise<void> {
	const {paths} = context;
	await mkdir(paths.postgresData, {recursive: true, mode: 0o700});
	await mkdir(paths.logs, {recursive: true});
	await appendFile(paths.postgresLog, '');
	if (runAs) {
		await chown(paths.postgresData, runAs.uid, runAs.gid);
		await chown(paths.postgresLog, runAs.uid, runAs.gid);
		// The server user must reach the directory through every parent (e.g. not under /root).
		const reachable = await execa('test', ['-w', paths.postgresData], {reject: false, uid: runAs.uid, gid: runAs.gid, cwd: '/', stdin: 'ignore'});
		if (reachable.exitCode !== 0) {
			throw new ActionableError(
				'E_SERVICE_UNAVAILABLE',
				`Cannot start the sandbox PostgreSQL: it runs as the '${runAs.name}' OS user (msdb runs as root, PostgreSQL refuses root), and that user cannot reach ${paths.postgresData}.`,
				{nextStep: `Run msdb from a directory every user can traverse (not under /root), or allow it: chmod o+x on each parent directory of ${paths.root}.`},
			);
		}
	}
}

async function initialise(installation: Installation, context: SandboxContext): Promise<void> {
	const {paths} = context;
	context.report(`postgres: creating a cluster in ${paths.postgresData} (initdb ${installation.binaries.version})`);
	const result = await runAsServerUser(
		installation,
		installation.binaries.initdb,
		['-D', paths.postgresData, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'],
		context,
	);
	if (result.exitCode !== 0) {
		throw startFailure('PostgreSQL', 'initdb failed.', redact(result.all.trim().split('\n').slice(-25).join('\n')), 'initdb output', NEXT_STEP);
	}

	await appendFile(`${paths.postgresData}/postgresql.conf`, SANDBOX_SETTINGS);
}

/**
 * Starts the sandbox PostgreSQL (initdb first if there is no cluster yet) with `pg_ctl start`,
 * on the first free of `preferredPorts`, else any free port. Returns once it accepts connections.
 */
export async function startSandboxPostgres(context: SandboxContext, preferredPorts: ReadonlyArray<number | undefined>): Promise<{port: number; pid: number | null}> {
	const found = await installation(context);
	const {paths} = context;
	await prepareDirectories(context, found.runAs);
	if (!(await stat(`${paths.postgresData}/PG_VERSION`).catch(() => undefined))) {
		await initialise(found, context);
	}

	for (let attempt = 1; ; attempt++) {
		const port = await pickPort(preferredPorts, attempt);
		const offset = await logSize(paths.postgresLog);
		context.report(`postgres: starting PostgreSQL ${found.binaries.version} on 127.0.0.1:${port}${found.runAs ? ` as OS user ${found.runAs.name}` : ''}`);
		const result = await runAsServerUser(
			found,
			found.pgCtl,
			['start', '-D', paths.postgresData, '-l', paths.postgresLog, '-o', `-p ${port}`, '-w', '-t', String(START_TIMEOUT_SECONDS)],
			context,
		);
		if (result.exitCode === 0) {
			const probe = await probeSandboxPostgres(context, port);
			if (probe.up) {
				return {port, pid: probe.pid};
			}

			throw startFailure('PostgreSQL', `pg_ctl started it, but ${probe.detail}.`, await logTail(paths.postgresLog, offset), paths.postgresLog, NEXT_STEP);
		}

		const log = await logTail(paths.postgresLog, offset);
		if (!portWasTaken(log) || attempt >= PORT_ATTEMPTS) {
			const output = redact(result.all.trim());
			throw startFailure('PostgreSQL', `pg_ctl start failed${output ? `: ${output}` : '.'}`, log, paths.postgresLog, NEXT_STEP);
		}
	}
}

/** Creates the `msdb` database if it is missing (superuser connection on `port`). */
export async function ensureSandboxDatabase(port: number, password?: string): Promise<boolean> {
	const client = sandboxPostgresClient(port, 'postgres', password);
	await client.connect();
	try {
		const {rowCount} = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [SANDBOX_DATABASE]);
		if (rowCount) {
			return false;
		}

		try {
			await client.query(`CREATE DATABASE ${SANDBOX_DATABASE}`);
			return true;
		} catch (error) {
			// Another `up` created it in the meantime.
			if ((error as {code?: string}).code === '42P04') {
				return false;
			}

			throw error;
		}
	} finally {
		await client.end().catch(() => {});
	}
}

/** Stops the sandbox PostgreSQL (`pg_ctl stop -m fast`); returns the pid it stopped, if any. */
export async function stopSandboxPostgres(context: SandboxContext): Promise<number | undefined> {
	const {paths} = context;
	const pid = await postmasterPid(paths.postgresData);
	if (pid === undefined || !isProcessAlive(pid)) {
		return undefined;
	}

	const found = await installation(context);
	context.report(`postgres: stopping (pid ${pid})`);
	const result = await runAsServerUser(found, found.pgCtl, ['stop', '-D', paths.postgresData, '-m', 'fast', '-w', '-t', String(START_TIMEOUT_SECONDS)], context);
	if (result.exitCode !== 0 && isProcessAlive(pid)) {
		throw new ActionableError('E_SERVICE_UNAVAILABLE', `pg_ctl stop failed for the sandbox PostgreSQL (pid ${pid}): ${redact(result.all.trim())}`, {
			nextStep: `Read ${paths.postgresLog}; stop it by hand with \`kill -INT ${pid}\`, then run \`msdb sandbox down\` again.`,
		});
	}

	return pid;
}
