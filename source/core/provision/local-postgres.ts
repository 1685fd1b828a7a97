import {chown, mkdir} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import pg from 'pg';
import {ActionableError} from '../errors.js';
import {redact} from '../redact.js';
import {isRoot, lookupOsUser, type OsUser} from './os-user.js';
import {findPostgresBinaries, type PostgresBinaries} from './postgres-binaries.js';
import {once, type ProvisionedPostgres} from './provisioned-service.js';
import {commandFailureText, runCommand} from './run-command.js';
import {ServerProcess} from './server-process.js';
import {createWorkDirectory} from './work-directory.js';

export type LocalPostgresOptions = {
	/** Which installation to use; found with {@link findPostgresBinaries} when omitted. */
	binaries?: PostgresBinaries;
	/** How long to wait for the first successful connection. */
	startupTimeoutMs?: number;
	/** The OS user to run the server as when we are root (PostgreSQL refuses root). */
	osUser?: string;
};

const PORT_ATTEMPTS = 3;
const OTHER_WAYS =
	'start Docker (testcontainers is used when it answers), or point msdb at an existing server (tests: MSDB_TEST_DATABASE_URL)';

/**
 * initdb and postgres refuse to run as root; as root we run them as a dedicated user instead.
 * Exported for local-postgres-replica.ts, which runs pg_basebackup and a standby the same way.
 */
export async function resolveRunAs(osUser: string): Promise<OsUser | undefined> {
	if (!isRoot()) {
		return undefined;
	}

	const user = await lookupOsUser(osUser);
	if (!user) {
		throw new ActionableError(
			'E_SERVICE_UNAVAILABLE',
			`Cannot start a private PostgreSQL server: this process runs as root, PostgreSQL refuses to run as root, and there is no '${osUser}' OS user to run it as.`,
			{nextStep: `Create the user (useradd --system --create-home ${osUser}), run as a non-root user, or ${OTHER_WAYS}.`},
		);
	}

	return user;
}

/** A private server's temp directory: PGDATA and the socket directory under it, owned by the server's user. */
export type PostgresRoot = {
	root: string;
	dataDirectory: string;
	socketDirectory: string;
	/** Deletes the directory (done at exit too, when nobody did). */
	remove: () => Promise<void>;
};

/**
 * Makes the temp directory a private server (or standby) runs in. Exported for
 * local-postgres-replica.ts. Removed again when anything here fails.
 */
export async function createPostgresRoot(prefix: string, runAs: OsUser | undefined): Promise<PostgresRoot> {
	const {path: root, remove} = await createWorkDirectory(prefix);
	// Our own socket directory: the default (/var/run/postgresql) may belong to a system server.
	const socketDirectory = path.join(root, 'socket');
	try {
		await mkdir(socketDirectory);
		if (runAs) {
			await chown(root, runAs.uid, runAs.gid);
			await chown(socketDirectory, runAs.uid, runAs.gid);
		}
	} catch (error) {
		await remove();
		throw error;
	}

	return {root, dataDirectory: path.join(root, 'data'), socketDirectory, remove};
}

async function answers(port: number): Promise<void> {
	// ssl: false so a PGSSLMODE in the environment cannot make us ask our own server for TLS.
	const client = new pg.Client({
		host: '127.0.0.1',
		port,
		user: 'postgres',
		database: 'postgres',
		ssl: false,
		connectionTimeoutMillis: 2000,
	});
	try {
		await client.connect();
		await client.query('SELECT 1');
	} finally {
		await client.end().catch(() => {});
	}
}

/**
 * Starts a private, throw-away PostgreSQL server from local binaries: `initdb` into a fresh temp
 * directory (trust auth, superuser `postgres`), then `postgres` as our child process on a free
 * port of 127.0.0.1, tuned for tests (no fsync). `stop()` shuts it down and deletes the
 * directory.
 */
export async function startLocalPostgres(options: LocalPostgresOptions = {}): Promise<ProvisionedPostgres> {
	const binaries = options.binaries ?? (await findPostgresBinaries());
	if (!binaries) {
		throw new ActionableError(
			'E_SERVICE_UNAVAILABLE',
			'Cannot start a private PostgreSQL server: no initdb/postgres found on PATH or under /usr/lib/postgresql/*/bin.',
			{nextStep: `Install the PostgreSQL server package (e.g. apt-get install postgresql), ${OTHER_WAYS}.`},
		);
	}

	const runAs = await resolveRunAs(options.osUser ?? 'postgres');
	const {remove: removeRoot, ...directories} = await createPostgresRoot('msdb-postgres-', runAs);
	const {root, dataDirectory} = directories;
	// LC_ALL=C: English messages in the log tail, and no locale warnings from initdb.
	const env = {...process.env, LC_ALL: 'C'};
	let server: ServerProcess | undefined;
	let port = 0;
	try {
		// cwd = root: the server user may not be allowed into our working directory, and initdb
		// and postgres look up their cwd.
		const initdb = await runCommand(
			binaries.initdb,
			['-D', dataDirectory, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'],
			{cwd: root, env, ...(runAs ? {runAs} : {})},
		);
		if (!initdb.ok) {
			throw new ActionableError(
				'E_SERVICE_UNAVAILABLE',
				redact(commandFailureText('initdb', initdb)),
				{nextStep: `Check that ${runAs ? `the '${runAs.name}' user can write to ${tmpdir()}` : 'the temp directory is writable'}, or ${OTHER_WAYS}.`},
			);
		}

		({server, port} = await startPostgresServer({
			binaries,
			...directories,
			env,
			...(runAs ? {runAs} : {}),
			...(options.startupTimeoutMs === undefined ? {} : {startupTimeoutMs: options.startupTimeoutMs}),
		}));
	} catch (error) {
		await server?.stop();
		await removeRoot();
		throw error;
	}

	const running = server;
	return {
		service: 'postgres',
		url: `postgres://postgres@127.0.0.1:${port}/postgres`,
		source: 'local',
		description: `PostgreSQL ${binaries.version} from ${binaries.binDirectory} on 127.0.0.1:${port}${runAs ? ` as OS user ${runAs.name}` : ''}, data in ${root}`,
		dataDirectory: root,
		majorVersion: binaries.majorVersion,
		stop: once(async () => {
			await running.stop();
			await removeRoot();
		}),
	};
}

/** Where and how to run one `postgres` process over an existing data directory. */
export type PostgresServerSetup = {
	binaries: PostgresBinaries;
	/** The server's working directory (the server user must be allowed in). */
	root: string;
	dataDirectory: string;
	socketDirectory: string;
	env: NodeJS.ProcessEnv;
	runAs?: OsUser;
	startupTimeoutMs?: number;
	/** Reuse this port (a restarted standby keeps its URL); a free one is picked when omitted. */
	port?: number;
	/** More `-c name=value` settings; they win over the defaults above them. */
	settings?: Readonly<Record<string, string>>;
};

/**
 * Runs `postgres` over `dataDirectory` on 127.0.0.1 and waits until it answers. Without a fixed
 * port, a port taken between get-port and bind is retried on another. Exported for
 * local-postgres-replica.ts: a standby needs the same settings (hot standby requires
 * max_connections at least the primary's).
 */
export async function startPostgresServer(setup: PostgresServerSetup): Promise<{server: ServerProcess; port: number}> {
	const {binaries, root, dataDirectory, socketDirectory, env, runAs} = setup;
	// get-port only says a port was free a moment ago; another process may take it first.
	for (let attempt = 1; ; attempt++) {
		const port = setup.port ?? (await getPort());
		const server = ServerProcess.start({
			name: 'postgres',
			command: binaries.postgres,
			args: [
				'-D', dataDirectory,
				'-p', String(port),
				'-k', socketDirectory,
				'-c', 'listen_addresses=127.0.0.1',
				// Throw-away data: durability only costs time.
				'-c', 'fsync=off',
				'-c', 'synchronous_commit=off',
				'-c', 'full_page_writes=off',
				// Test files run in parallel, each with pools of its own.
				'-c', 'max_connections=300',
				...Object.entries(setup.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
			],
			cwd: root,
			env,
			...(runAs ? {runAs} : {}),
			stopSignal: 'SIGINT',
			exitSignal: 'SIGQUIT',
		});
		try {
			await server.waitUntilReady(async () => answers(port), {
				timeoutMs: setup.startupTimeoutMs ?? 30_000,
				nextStep: `Read the server log above; or ${OTHER_WAYS}.`,
			});
			return {server, port};
		} catch (error) {
			const portTaken = /could not (bind|create listen)|address already in use/i.test(server.logTail());
			await server.stop();
			if (!portTaken || attempt >= PORT_ATTEMPTS || setup.port !== undefined) {
				throw error;
			}
		}
	}
}
