/**
 * The sandbox's Redis from local binaries: `redis-server --daemonize yes` (it outlives msdb) on
 * 127.0.0.1, with an append-only file in `.msdb/sandbox/redis/` so keys survive down/up.
 */
import {mkdir, realpath} from 'node:fs/promises';
import {execa} from 'execa';
import {findRedisServer, requireRedisServer} from '../provision/local-redis.js';
import {withLocalAdminClient} from '../provision/redis-server-process.js';
import {redact} from '../redact.js';
import {isOurProcess, terminateProcess} from './process-control.js';
import {logSize, logTail, pickPort, pollFor, portWasTaken, startFailure, type SandboxContext, type ServiceProbe} from './sandbox-service.js';

/** The port tried first, so REDIS_URL is the same on every machine that has it free. */
export const SANDBOX_REDIS_PORT = 56379;

const PORT_ATTEMPTS = 3;
const START_TIMEOUT_MS = 15_000;
const NEXT_STEP = 'Read the log above; `msdb sandbox down --purge` starts over with fresh data; MSDB_SANDBOX_DOCKER=1 uses Docker instead.';

/** redis-server rewrites its process title to `redis-server 127.0.0.1:PORT`. */
const PROCESS_MARKER = 'redis-server';

/** Is the server on `port` this sandbox's (same `dir`), and does it answer PING? */
export async function probeSandboxRedis(context: SandboxContext, port: number | undefined, statePid: number | undefined): Promise<ServiceProbe> {
	if (port === undefined) {
		return {up: false, pid: null, detail: 'never started here'};
	}

	try {
		const {pid, directory} = await withLocalAdminClient(port, async client => {
			await client.ping();
			const info = await client.info('server');
			const config = (await client.config('GET', 'dir')) as string[];
			return {pid: Number(/process_id:(\d+)/.exec(info)?.[1]), directory: config[1] ?? ''};
		});
		const ours = await realpath(context.paths.redisData).catch(() => context.paths.redisData);
		if (directory !== ours) {
			return {up: false, pid: null, detail: `port ${port} answers, but that server's dir is ${directory}`};
		}

		return {up: true, pid: Number.isInteger(pid) ? pid : null, detail: 'answers'};
	} catch (error) {
		const alive = await isOurProcess(statePid, PROCESS_MARKER);
		const reason = redact(error instanceof Error ? error.message : String(error));
		return {up: false, pid: alive ? (statePid ?? null) : null, detail: alive ? `pid ${statePid} is running but does not answer on port ${port}: ${reason}` : 'not running'};
	}
}

/** Starts the sandbox Redis on the first free of `preferredPorts`, else any free port; returns once it answers. */
export async function startSandboxRedis(context: SandboxContext, preferredPorts: ReadonlyArray<number | undefined>): Promise<{port: number; pid: number | null}> {
	const redisServer = await requireRedisServer(await findRedisServer(context.env), 'the sandbox Redis');
	const {paths} = context;
	await mkdir(paths.redisData, {recursive: true});
	await mkdir(paths.logs, {recursive: true});
	for (let attempt = 1; ; attempt++) {
		const port = await pickPort(preferredPorts, attempt);
		const offset = await logSize(paths.redisLog);
		context.report(`redis: starting redis-server on 127.0.0.1:${port}`);
		const launched = await execa(
			redisServer,
			[
				'--port', String(port),
				'--bind', '127.0.0.1',
				'--dir', paths.redisData,
				'--daemonize', 'yes',
				'--pidfile', `${paths.redisData}/redis-server.pid`,
				'--logfile', paths.redisLog,
				// Keys survive down/up: an append-only file, fsynced every second; no RDB snapshots.
				'--appendonly', 'yes',
				'--appendfsync', 'everysec',
				'--save', '',
			],
			{cwd: paths.redisData, env: context.env, reject: false, all: true, stdin: 'ignore', detached: true, timeout: START_TIMEOUT_MS},
		);
		if (launched.exitCode !== 0) {
			throw startFailure('Redis', `redis-server exited with ${String(launched.exitCode)}: ${redact(launched.all.trim())}`, await logTail(paths.redisLog, offset), paths.redisLog, NEXT_STEP);
		}

		// The daemon binds its port after the launcher returned; a bind failure shows in its log.
		const ready = await pollFor(
			async () => {
				const probe = await probeSandboxRedis(context, port, undefined);
				return probe.up ? probe : undefined;
			},
			{
				timeoutMs: START_TIMEOUT_MS,
				signal: context.signal,
				stop: async () => {
					const log = await logTail(paths.redisLog, offset);
					return portWasTaken(log) || /# (Fatal|Can't|Failed)/i.test(log) ? 'it reported an error' : undefined;
				},
			},
		);
		if ('value' in ready) {
			return {port, pid: ready.value.pid};
		}

		const log = await logTail(paths.redisLog, offset);
		if (!portWasTaken(log) || attempt >= PORT_ATTEMPTS) {
			throw startFailure('Redis', `${ready.reason}.`, log, paths.redisLog, NEXT_STEP);
		}
	}
}

/** Stops the sandbox Redis (SIGTERM: it flushes the append-only file); returns the pid it stopped, if any. */
export async function stopSandboxRedis(context: SandboxContext, port: number | undefined, statePid: number | undefined): Promise<number | undefined> {
	const probe = await probeSandboxRedis(context, port, statePid);
	const pid = probe.pid ?? undefined;
	if (pid === undefined || !(await isOurProcess(pid, PROCESS_MARKER))) {
		return undefined;
	}

	context.report(`redis: stopping (pid ${pid})`);
	await terminateProcess(pid);
	return pid;
}
