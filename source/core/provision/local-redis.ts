import {ActionableError} from '../errors.js';
import {findOnPath} from './find-on-path.js';
import {once, type ProvisionedRedis} from './provisioned-service.js';
import {
	killRedisServerProcess,
	readRedisServerVersion,
	startRedisServerProcess,
} from './redis-server-process.js';
import type {ServerProcess} from './server-process.js';
import {createWorkDirectory} from './work-directory.js';

export type LocalRedisOptions = {
	/** Path of `redis-server`; searched on PATH when omitted. */
	redisServer?: string;
	startupTimeoutMs?: number;
	/** A fixed port on 127.0.0.1 (fails if it is taken); a free one is picked when omitted. */
	port?: number;
};

/** A private server we started: besides `stop()`, a test can crash it and bring it back. */
export type LocalRedis = ProvisionedRedis & {
	readonly source: 'local';
	readonly port: number;
	readonly dataDirectory: string;
	/** SIGKILL: no shutdown save, clients see the connection drop, as in a crash. */
	kill(): Promise<void>;
	/** Starts the server again on the same port in the same (still empty) directory; kills it first if running. */
	restart(): Promise<void>;
};

/** Ways to get a Redis without local binaries, for error messages. */
export const OTHER_REDIS_SOURCES =
	'start Docker (testcontainers is used when it answers), or point msdb at an existing server (tests: MSDB_TEST_REDIS_URL)';

/** Finds `redis-server` on PATH (Debian puts it in /usr/bin, Homebrew in its own bin). */
export async function findRedisServer(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
	return findOnPath('redis-server', env);
}

/** `redis-server` from the option or PATH, or an error saying how else to get a Redis. */
export async function requireRedisServer(redisServer: string | undefined, what: string): Promise<string> {
	const found = redisServer ?? (await findRedisServer());
	if (!found) {
		throw new ActionableError('E_SERVICE_UNAVAILABLE', `Cannot start ${what}: no redis-server on PATH.`, {
			nextStep: `Install Redis (e.g. apt-get install redis-server), ${OTHER_REDIS_SOURCES}.`,
		});
	}

	return found;
}

/**
 * Starts a private, throw-away `redis-server` as our child process on a free port of 127.0.0.1,
 * with no persistence and a fresh empty working directory (redis-server loads any dump.rdb it
 * finds there). Fast enough (tens of milliseconds) to start one per test file.
 */
export async function startLocalRedis(options: LocalRedisOptions = {}): Promise<LocalRedis> {
	const redisServer = await requireRedisServer(options.redisServer, 'a private Redis server');
	const versionText = await readRedisServerVersion(redisServer);
	const directory = await createWorkDirectory('msdb-redis-');
	const nextStep = `Read the server log above; or ${OTHER_REDIS_SOURCES}.`;
	let server: ServerProcess;
	let port: number;
	try {
		({server, port} = await startRedisServerProcess({
			redisServer,
			directory: directory.path,
			port: options.port,
			startupTimeoutMs: options.startupTimeoutMs,
			nextStep,
		}));
	} catch (error) {
		await directory.remove();
		throw error;
	}

	let stopped = false;
	// kill/restart/stop each replace or end the current process; chaining them keeps a restart
	// racing a stop from leaving a server behind.
	let lifecycle: Promise<void> = Promise.resolve();
	const serialized = async (step: () => Promise<void>): Promise<void> => {
		const next = lifecycle.then(step);
		lifecycle = next.catch(() => {});
		return next;
	};

	return {
		service: 'redis',
		url: `redis://127.0.0.1:${port}`,
		source: 'local',
		port,
		description: `Redis${versionText ? ` ${versionText}` : ''} (${redisServer}) on 127.0.0.1:${port}, dir ${directory.path}`,
		dataDirectory: directory.path,
		kill: async () =>
			serialized(async () => {
				await killRedisServerProcess(server);
			}),
		restart: async () =>
			serialized(async () => {
				if (stopped) {
					throw new ActionableError('E_SERVICE_UNAVAILABLE', `The Redis server on port ${port} was stopped; it cannot be restarted.`, {
						nextStep: 'Start a new one with startLocalRedis().',
					});
				}

				await killRedisServerProcess(server);
				({server} = await startRedisServerProcess({
					redisServer,
					directory: directory.path,
					port,
					startupTimeoutMs: options.startupTimeoutMs,
					nextStep,
				}));
			}),
		stop: once(async () =>
			serialized(async () => {
				stopped = true;
				await server.stop();
				await directory.remove();
			}),
		),
	};
}
