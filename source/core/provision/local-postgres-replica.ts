/**
 * A private streaming replica (hot standby) of a PostgreSQL server, for tests of replica reads:
 * `pg_basebackup -R` from the primary into a fresh temp directory, then `postgres` over it on a
 * free port of 127.0.0.1, as the `postgres` OS user when we are root (like local-postgres.ts).
 *
 * The primary is usually one from {@link startLocalPostgres}: initdb's defaults already allow
 * streaming replication (wal_level=replica, max_wal_senders=10, and `-A trust` also trusts
 * replication connections from 127.0.0.1). The helper checks this before copying anything.
 *
 * The standby can be stopped and started again on the same port, so a test can watch a client
 * lose the replica and find it again.
 */
import path from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import pg from 'pg';
import {ActionableError} from '../errors.js';
import {redact} from '../redact.js';
import {createPostgresRoot, resolveRunAs, startPostgresServer} from './local-postgres.js';
import type {OsUser} from './os-user.js';
import {findPostgresBinaries, isExecutable, type PostgresBinaries} from './postgres-binaries.js';
import {once} from './provisioned-service.js';
import {commandFailureText, runCommand} from './run-command.js';
import type {ServerProcess} from './server-process.js';

export type LocalPostgresReplicaOptions = {
	/** Which installation to use (it needs pg_basebackup); found with {@link findPostgresBinaries} when omitted. */
	binaries?: PostgresBinaries;
	/** The OS user to run pg_basebackup and the standby as when we are root (default `postgres`). */
	osUser?: string;
	/** How long to wait for the standby to answer and stream from the primary (default 30 s). */
	startupTimeoutMs?: number;
};

/** A running standby and the handles a test needs to take it away and bring it back. */
export type LocalPostgresReplica = {
	/** `postgres://<primary's user>@127.0.0.1:PORT/<primary's database>` on the standby. */
	readonly url: string;
	readonly port: number;
	/** One human line: what runs where (no credentials). */
	readonly description: string;
	/** The temp directory holding the standby's PGDATA and socket. */
	readonly dataDirectory: string;
	/** Stops the standby, keeping its data (fast shutdown: its sessions are ended). Idempotent. */
	stopReplica(): Promise<void>;
	/** Starts the stopped standby again on the same port and waits until it streams again. */
	startReplica(): Promise<void>;
	/** Stops the standby and removes its directory. Idempotent. */
	stop(): Promise<void>;
};

type PrimaryFacts = {walLevel: string; maxWalSenders: number; maxConnections: number};

/** Settings a hot standby must have at least as high as its primary, or it refuses to start. */
const BASELINE_MAX_CONNECTIONS = 300;

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
	// ssl: false as in local-postgres.ts: a PGSSLMODE in the environment must not change our private servers.
	const client = new pg.Client({connectionString: url, ssl: false, connectionTimeoutMillis: 5000});
	client.on('error', () => {});
	try {
		await client.connect();
		return await work(client);
	} finally {
		await client.end().catch(() => {});
	}
}

async function primaryFacts(url: string): Promise<PrimaryFacts> {
	try {
		return await withClient(url, async client => {
			const {rows} = await client.query<{wal_level: string; max_wal_senders: string; max_connections: string}>(
				`SELECT current_setting('wal_level') AS wal_level, current_setting('max_wal_senders') AS max_wal_senders,
					current_setting('max_connections') AS max_connections`,
			);
			const row = rows[0];
			return {
				walLevel: row?.wal_level ?? 'minimal',
				maxWalSenders: Number(row?.max_wal_senders ?? 0),
				maxConnections: Number(row?.max_connections ?? 0),
			};
		});
	} catch (error) {
		throw new ActionableError('E_SERVICE_UNAVAILABLE', redact(`Cannot reach the primary at ${url} to copy it: ${(error as Error).message}`), {
			nextStep: 'Start the primary first (startLocalPostgres()), then the replica.',
			cause: error,
		});
	}
}

/** Polls until the standby's WAL receiver streams from the primary: only then does it follow new writes. */
async function waitUntilStreaming(url: string, server: ServerProcess, timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	let last = 'no answer yet';
	for (;;) {
		try {
			const status = await withClient(url, async client => {
				const {rows} = await client.query<{status: string | null}>('SELECT (SELECT status FROM pg_stat_wal_receiver) AS status');
				return rows[0]?.status ?? null;
			});
			if (status === 'streaming') {
				return;
			}

			last = `WAL receiver status: ${status ?? 'not running'}`;
		} catch (error) {
			last = (error as Error).message;
		}

		if (Date.now() >= deadline || server.exitDescription !== undefined) {
			throw new ActionableError(
				'E_SERVICE_UNAVAILABLE',
				redact(`The standby did not start streaming from its primary within ${Math.round(timeoutMs / 1000)} s (${last}).\n--- postgres log (last lines) ---\n${server.logTail()}`),
				{nextStep: 'Read the standby log above: pg_hba.conf on the primary must allow replication connections.'},
			);
		}

		await sleep(100);
	}
}

/**
 * Copies `primary` with `pg_basebackup -R` and starts the copy as a streaming hot standby on a
 * free port. The primary must allow replication connections for the URL's user (the servers of
 * {@link startLocalPostgres} do).
 */
export async function startLocalPostgresReplica(
	primary: {url: string},
	options: LocalPostgresReplicaOptions = {},
): Promise<LocalPostgresReplica> {
	const binaries = options.binaries ?? (await findPostgresBinaries());
	const pgBasebackup = binaries ? path.join(binaries.binDirectory, 'pg_basebackup') : undefined;
	if (!binaries || !pgBasebackup || !(await isExecutable(pgBasebackup))) {
		throw new ActionableError(
			'E_SERVICE_UNAVAILABLE',
			'Cannot start a private PostgreSQL replica: no postgres and pg_basebackup found on PATH or under /usr/lib/postgresql/*/bin.',
			{nextStep: 'Install the PostgreSQL server package (e.g. apt-get install postgresql).'},
		);
	}

	const facts = await primaryFacts(primary.url);
	if (facts.walLevel === 'minimal' || facts.maxWalSenders < 1) {
		throw new ActionableError(
			'E_SERVICE_UNAVAILABLE',
			`The primary cannot stream to a replica: wal_level=${facts.walLevel}, max_wal_senders=${facts.maxWalSenders}.`,
			{nextStep: 'Start the primary with wal_level=replica and max_wal_senders ≥ 1 (the defaults), then try again.'},
		);
	}

	const primaryUrl = new URL(primary.url);
	const runAs: OsUser | undefined = await resolveRunAs(options.osUser ?? 'postgres');
	const {remove: removeRoot, ...directories} = await createPostgresRoot('msdb-postgres-replica-', runAs);
	const {root, dataDirectory} = directories;
	// The password (if any) travels in the environment: command lines are visible to every user in ps.
	const password = decodeURIComponent(primaryUrl.password);
	const env = {...process.env, LC_ALL: 'C', ...(password ? {PGPASSWORD: password} : {})};
	const startupTimeoutMs = options.startupTimeoutMs ?? 30_000;
	const setup = {
		binaries,
		...directories,
		env,
		...(runAs ? {runAs} : {}),
		startupTimeoutMs,
		settings: {max_connections: String(Math.max(BASELINE_MAX_CONNECTIONS, facts.maxConnections))},
	};
	let server: ServerProcess | undefined;
	let port = 0;
	let url = '';
	const start = async (fixedPort?: number) => {
		const started = await startPostgresServer({...setup, ...(fixedPort === undefined ? {} : {port: fixedPort})});
		server = started.server;
		port = started.port;
		url = replicaUrl(primaryUrl, port);
		await waitUntilStreaming(url, started.server, startupTimeoutMs);
	};

	try {
		// -R writes standby.signal and primary_conninfo; -c fast: do not wait for a spread checkpoint;
		// -X stream: the WAL written during the copy comes along, so the copy is consistent.
		const basebackup = await runCommand(
			pgBasebackup,
			[
				'-h', primaryUrl.hostname || '127.0.0.1',
				'-p', primaryUrl.port || '5432',
				'-U', decodeURIComponent(primaryUrl.username) || 'postgres',
				'-D', dataDirectory,
				'-R', '-X', 'stream', '-c', 'fast', '--no-sync',
			],
			{cwd: root, env, ...(runAs ? {runAs} : {}), timeoutMs: 120_000},
		);
		if (!basebackup.ok) {
			throw new ActionableError(
				'E_SERVICE_UNAVAILABLE',
				redact(commandFailureText('pg_basebackup', basebackup)),
				{nextStep: 'Check that the primary allows replication connections (pg_hba.conf) for this user.'},
			);
		}

		await start();
	} catch (error) {
		await (server as ServerProcess | undefined)?.stop();
		await removeRoot();
		throw error;
	}

	const stopReplica = async () => {
		const running = server;
		server = undefined;
		await running?.stop();
	};

	return {
		url,
		port,
		description: `PostgreSQL ${binaries.version} standby of ${primaryUrl.host} on 127.0.0.1:${port}${runAs ? ` as OS user ${runAs.name}` : ''}, data in ${root}`,
		dataDirectory: root,
		stopReplica,
		startReplica: async () => {
			if (!server) {
				await start(port);
			}
		},
		stop: once(async () => {
			await stopReplica();
			await removeRoot();
		}),
	};
}

function replicaUrl(primaryUrl: URL, port: number): string {
	const url = new URL(primaryUrl.toString());
	url.hostname = '127.0.0.1';
	url.port = String(port);
	return url.toString();
}
