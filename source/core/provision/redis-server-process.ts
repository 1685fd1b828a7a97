/**
 * The pieces every locally started Redis shares (a single server, cluster nodes, sentinels):
 * a `redis-server` child on a free port of 127.0.0.1, and a readiness
 * probe. Kept apart from local-redis.ts so the cluster and sentinel starters reuse the exact
 * same port-retry and cleanup rules.
 */
import {tmpdir} from 'node:os';
import {setTimeout as sleep} from 'node:timers/promises';
import getPort from 'get-port';
import {Redis} from 'ioredis';
import {ActionableError} from '../errors.js';
import {runCommand} from './run-command.js';
import {ServerProcess} from './server-process.js';

export type RedisServerProcessOptions = {
	/** Path of `redis-server`. */
	redisServer: string;
	/** The server's `--dir` and working directory; must be empty (redis-server loads a dump.rdb it finds). */
	directory: string;
	/** A fixed port (no retry when it is taken); otherwise a free one is picked. */
	port?: number;
	/** Arguments placed first: a config file must be the first argument of redis-server. */
	leadingArgs?: readonly string[];
	/** More arguments for the chosen port (e.g. a cluster bus port picked alongside it). */
	extraArgs?: (port: number) => Promise<readonly string[]> | readonly string[];
	/** Short name for messages: `redis-server`, `redis cluster node` … */
	name?: string;
	startupTimeoutMs?: number;
	/** Shown as the error's next step when the server does not come up. */
	nextStep: string;
};

export type RedisServerProcess = {
	server: ServerProcess;
	port: number;
};

// get-port only promises the port was free when it looked; another process can take it before
// redis-server binds, so a few attempts are made before giving up.
const PORT_ATTEMPTS = 3;

/** `7.0.15`, from `redis-server --version`; undefined when it cannot be read. */
export async function readRedisServerVersion(redisServer: string): Promise<string | undefined> {
	const version = await runCommand(redisServer, ['--version'], {cwd: tmpdir(), timeoutMs: 10_000});
	return /v=(\S+)/.exec(version.output)?.[1];
}

/**
 * A short-lived admin connection to a local server: no reconnects and no offline queue, so a
 * dead server fails the call at once instead of hiding behind ioredis' retry loop.
 */
export function localAdminClient(port: number): Redis {
	const client = new Redis({
		host: '127.0.0.1',
		port,
		lazyConnect: true,
		retryStrategy: () => null,
		maxRetriesPerRequest: 0,
		enableOfflineQueue: false,
		connectTimeout: 2000,
		commandTimeout: 5000,
		// Close the socket at once: ioredis otherwise keeps a 2 s timer (and the event loop)
		// alive waiting for a graceful close.
		disconnectTimeout: 0,
	});
	client.on('error', () => {});
	return client;
}

/** Runs `work` on a fresh admin connection to `127.0.0.1:port`, then drops it. */
export async function withLocalAdminClient<T>(port: number, work: (client: Redis) => Promise<T>): Promise<T> {
	const client = localAdminClient(port);
	try {
		await client.connect();
		return await work(client);
	} finally {
		client.disconnect();
	}
}

/** Resolves once the server on `port` answers PING (one attempt). */
export async function probeRedis(port: number): Promise<void> {
	await withLocalAdminClient(port, async client => client.ping());
}

/**
 * Starts `redis-server` as our child process on 127.0.0.1 with no persistence and waits until it
 * answers PING. Retries on another free port when the chosen one was taken in the meantime.
 */
export async function startRedisServerProcess(options: RedisServerProcessOptions): Promise<RedisServerProcess> {
	for (let attempt = 1; ; attempt++) {
		const port = options.port ?? (await getPort());
		const server = ServerProcess.start({
			name: options.name ?? 'redis-server',
			command: options.redisServer,
			args: [
				...(options.leadingArgs ?? []),
				'--port', String(port),
				'--bind', '127.0.0.1',
				'--dir', options.directory,
				'--save', '',
				'--appendonly', 'no',
				'--daemonize', 'no',
				...((await options.extraArgs?.(port)) ?? []),
			],
			cwd: options.directory,
			stopSignal: 'SIGTERM',
			exitSignal: 'SIGTERM',
		});
		try {
			await server.waitUntilReady(async () => probeRedis(port), {
				timeoutMs: options.startupTimeoutMs ?? 15_000,
				nextStep: options.nextStep,
			});
			return {server, port};
		} catch (error) {
			const portTaken = /address already in use/i.test(server.logTail());
			await server.stop();
			if (!portTaken || options.port !== undefined || attempt >= PORT_ATTEMPTS) {
				throw error;
			}
		}
	}
}

/**
 * Simulates a crash: SIGKILL (no shutdown save, no goodbye to clients), then waits for the
 * process to be gone. `stop()` afterwards only reaps it.
 */
export async function killRedisServerProcess(server: ServerProcess): Promise<void> {
	if (server.exitDescription === undefined && server.pid !== undefined) {
		try {
			process.kill(server.pid, 'SIGKILL');
		} catch {
			// Already gone between the check and the kill.
		}
	}

	await server.stop();
}

const POLL_MS = 50;

/**
 * Polls `check` until it returns true; after `deadline` (epoch ms) fails with a message naming
 * `subject` and `what` it was waiting for, and the last error seen.
 */
export async function pollUntil(deadline: number, subject: string, what: string, check: () => Promise<boolean>): Promise<void> {
	let lastError: unknown;
	for (;;) {
		try {
			if (await check()) {
				return;
			}
		} catch (error) {
			lastError = error;
		}

		if (Date.now() >= deadline) {
			const reason = lastError instanceof Error ? ` Last error: ${lastError.message}` : '';
			throw new ActionableError('E_SERVICE_UNAVAILABLE', `${subject} did not come up: gave up waiting for ${what}.${reason}`, {
				nextStep: 'Retry; if it keeps failing, check the machine is not overloaded, or point msdb at an existing server.',
			});
		}

		await sleep(POLL_MS);
	}
}
