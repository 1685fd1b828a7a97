import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import {ActionableError} from '../errors.js';
import {OTHER_REDIS_SOURCES, requireRedisServer} from './local-redis.js';
import {once} from './provisioned-service.js';
import {
	pollUntil,
	readRedisServerVersion,
	startRedisServerProcess,
	withLocalAdminClient,
} from './redis-server-process.js';
import type {ServerProcess} from './server-process.js';
import {createWorkDirectory, type WorkDirectory} from './work-directory.js';

export type LocalRedisSentinelOptions = {
	/** The name the sentinel monitors the primary under (default `msdb-primary`). */
	masterName?: string;
	/** Path of `redis-server`; searched on PATH when omitted. */
	redisServer?: string;
	startupTimeoutMs?: number;
};

/** A primary, one replica and one sentinel watching them, all our child processes. */
export type LocalRedisSentinel = {
	/** `redis+sentinel://127.0.0.1:<sentinelPort>/<masterName>` */
	readonly url: string;
	/** `redis://127.0.0.1:<port>` of the primary (direct access, for assertions). */
	readonly primaryUrl: string;
	/** `redis://127.0.0.1:<port>` of the replica. */
	readonly replicaUrl: string;
	/** `redis://127.0.0.1:<port>` of the sentinel itself. */
	readonly sentinelUrl: string;
	readonly masterName: string;
	/** One human line: what runs where. */
	readonly description: string;
	/** Stops all three and removes their directories. Idempotent. */
	stop(): Promise<void>;
};

type Started = {server: ServerProcess; port: number; directory: WorkDirectory};


/**
 * Starts a Sentinel deployment on 127.0.0.1: a primary, a replica of it, and one
 * `redis-server --sentinel` with a generated config (quorum 1) in its own empty directory.
 * Returns once the sentinel names the primary and knows the synced replica, so a client that
 * asks the sentinel gets a working primary straight away.
 */
export async function startLocalRedisSentinel(options: LocalRedisSentinelOptions = {}): Promise<LocalRedisSentinel> {
	const masterName = options.masterName ?? 'msdb-primary';
	if (!/^[A-Za-z0-9._-]+$/.test(masterName)) {
		throw new ActionableError('E_BAD_ARGUMENT', `A sentinel master name must match [A-Za-z0-9._-]+ (got ${JSON.stringify(masterName)}).`, {
			nextStep: 'Pick a name such as msdb-primary.',
		});
	}

	const redisServer = await requireRedisServer(options.redisServer, 'a private Redis Sentinel');
	const version = await readRedisServerVersion(redisServer);
	const timeoutMs = options.startupTimeoutMs ?? 30_000;
	const deadline = Date.now() + timeoutMs;
	const nextStep = `Read the log above; or ${OTHER_REDIS_SOURCES}.`;
	const started: Started[] = [];
	const stopAll = async () => {
		// Sentinel first, so it does not see the primary vanish and start a failover.
		for (const item of [...started].reverse()) {
			await item.server.stop();
			await item.directory.remove();
		}
	};

	const start = async (name: string, prefix: string, configure: (directory: string) => Promise<{leadingArgs?: string[]; extraArgs?: string[]}>) => {
		const directory = await createWorkDirectory(prefix);
		try {
			const {leadingArgs = [], extraArgs = []} = await configure(directory.path);
			const {server, port} = await startRedisServerProcess({
				redisServer,
				directory: directory.path,
				name,
				leadingArgs,
				extraArgs: () => extraArgs,
				startupTimeoutMs: timeoutMs,
				nextStep,
			});
			const item = {server, port, directory};
			started.push(item);
			return item;
		} catch (error) {
			await directory.remove();
			throw error;
		}
	};

	try {
		// Redis 7 waits 5 s before a diskless full sync, hoping more replicas join.
		const primary = await start('redis primary', 'msdb-redis-primary-', async () => ({
			extraArgs: ['--repl-diskless-sync-delay', '0'],
		}));
		const replica = await start('redis replica', 'msdb-redis-replica-', async () => ({
			extraArgs: ['--replicaof', '127.0.0.1', String(primary.port)],
		}));
		await pollUntil(deadline, 'The local Redis Sentinel', 'the replica to sync with the primary', async () =>
			withLocalAdminClient(replica.port, async client => /master_link_status:up/.test(await client.info('replication'))),
		);
		const sentinel = await start('redis sentinel', 'msdb-redis-sentinel-', async directory => {
			// Sentinel rewrites its config file as it learns the topology, so it lives in the
			// sentinel's own directory rather than being passed inline.
			const configFile = path.join(directory, 'sentinel.conf');
			await writeFile(
				configFile,
				[
					`sentinel monitor ${masterName} 127.0.0.1 ${primary.port} 1`,
					`sentinel down-after-milliseconds ${masterName} 2000`,
					`sentinel failover-timeout ${masterName} 10000`,
					`sentinel parallel-syncs ${masterName} 1`,
					'',
				].join('\n'),
			);
			return {leadingArgs: [configFile, '--sentinel']};
		});
		await pollUntil(deadline, 'The local Redis Sentinel', 'the sentinel to know the primary and its replica', async () =>
			withLocalAdminClient(sentinel.port, async client => {
				const address = (await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as string[] | null;
				if (address?.[1] !== String(primary.port)) {
					return false;
				}

				const replicas = (await client.call('SENTINEL', 'REPLICAS', masterName)) as string[][];
				return replicas.some(fields => {
					const record = fieldsToRecord(fields);
					return record['port'] === String(replica.port) && !/s_down|disconnected/.test(record['flags'] ?? '');
				});
			}),
		);

		return {
			url: `redis+sentinel://127.0.0.1:${sentinel.port}/${masterName}`,
			primaryUrl: `redis://127.0.0.1:${primary.port}`,
			replicaUrl: `redis://127.0.0.1:${replica.port}`,
			sentinelUrl: `redis://127.0.0.1:${sentinel.port}`,
			masterName,
			description: `Redis ${version ?? ''} sentinel on 127.0.0.1:${sentinel.port} watching ${masterName} (primary 127.0.0.1:${primary.port}, replica 127.0.0.1:${replica.port})`,
			stop: once(stopAll),
		};
	} catch (error) {
		await stopAll();
		throw error;
	}
}

/** SENTINEL replies are flat [name, value, name, value …] lists. */
function fieldsToRecord(fields: readonly string[]): Record<string, string> {
	const record: Record<string, string> = {};
	for (let index = 0; index + 1 < fields.length; index += 2) {
		record[fields[index] ?? ''] = fields[index + 1] ?? '';
	}

	return record;
}
