/**
 * One contract suite, every Redis shape (DESIGN.md "Tests", issue 4): `describeForEachRedisTarget`
 * declares the same tests once against a private standalone server and once against a private
 * three-master Redis Cluster, each started in beforeAll and stopped in afterAll.
 *
 * When MSDB_TEST_REDIS_URL points the run at an existing server (no local binaries wanted), the
 * standalone variant leases a logical database of it (see test-redis.ts) and the cluster variant
 * is skipped with the reason in its title and on stderr, unless MSDB_TEST_REDIS_CLUSTER_URL names
 * an existing cluster (`redis+cluster://host:port,…`; it is FLUSHALLed, so it must be dedicated).
 */
import {Cluster, Redis} from 'ioredis';
import {afterAll, beforeAll, describe, inject} from 'vitest';
import {startLocalRedisCluster} from '../../source/core/provision/index.js';
import {createRedisClient} from '../../source/core/redis/create-redis-client.js';
import {masterNodes, type RedisClient} from '../../source/core/redis/redis-client.js';
import {parseRedisUrl} from '../../source/core/redis/redis-config.js';
import {createTestRedis} from './test-redis.js';

export type RedisTargetKind = 'standalone' | 'cluster';

export type RedisTarget = {
	kind: RedisTargetKind;
	/** `redis://…` or `redis+cluster://…` */
	url: string;
	/** A NEW ioredis client (Redis or Cluster) for this target; the caller quits it. */
	connect(): RedisClient;
	/** FLUSHALL on every master (FLUSHDB of the leased database on a shared server). */
	flush(): Promise<void>;
};

const KINDS: readonly RedisTargetKind[] = ['standalone', 'cluster'];

// Generous: test files run in parallel on busy CI machines, and a hung command must still end.
const TEST_COMMAND_TIMEOUT_MS = 10_000;

/**
 * Declares `describe(`${name} (${kind})`)` once per kind. `body` receives a getter: call it inside
 * tests and hooks (the servers exist only after beforeAll), not while declaring.
 */
export function describeForEachRedisTarget(name: string, body: (target: () => RedisTarget) => void): void {
	for (const kind of KINDS) {
		const title = `${name} (${kind})`;
		const skipReason = kind === 'cluster' ? clusterSkipReason() : undefined;
		if (skipReason) {
			process.stderr.write(`[msdb test redis] skipping "${title}": ${skipReason}\n`);
			describe.skip(`${title} — skipped: ${skipReason}`, () => {
				body(() => {
					throw new Error(`${title} is skipped: ${skipReason}`);
				});
			});
			continue;
		}

		describe(title, () => {
			let target: RedisTarget | undefined;
			let stop: (() => Promise<void>) | undefined;
			let admin: RedisClient | undefined;
			beforeAll(async () => {
				const started = await startTarget(kind);
				stop = started.stop;
				const {url, leasedDatabase} = started;
				target = {
					kind,
					url,
					connect: () => connectTo(url),
					flush: async () => {
						admin ??= connectTo(url);
						await flushTarget(admin, leasedDatabase);
					},
				};
			});
			afterAll(async () => {
				admin?.disconnect();
				await stop?.();
			});
			body(() => {
				if (!target) {
					throw new Error(`${title}: the Redis target exists only inside tests and hooks that run after beforeAll.`);
				}

				return target;
			});
		});
	}
}

/** Why the cluster variant cannot run here, or undefined when it can. */
function clusterSkipReason(): string | undefined {
	if (process.env['MSDB_TEST_REDIS_CLUSTER_URL']?.trim()) {
		return undefined;
	}

	if (process.env['MSDB_TEST_REDIS_URL']?.trim()) {
		return 'MSDB_TEST_REDIS_URL is set, so no local redis-server is started; set MSDB_TEST_REDIS_CLUSTER_URL=redis+cluster://host:port,… to run it against a dedicated cluster';
	}

	return undefined;
}

type StartedTarget = {url: string; leasedDatabase: boolean; stop: () => Promise<void>};

async function startTarget(kind: RedisTargetKind): Promise<StartedTarget> {
	if (kind === 'standalone') {
		const redis = await createTestRedis();
		// A private server is ours to FLUSHALL; a leased database of a shared server is not.
		return {url: redis.url, leasedDatabase: inject('redisSource') !== 'local', stop: redis.stop};
	}

	const external = process.env['MSDB_TEST_REDIS_CLUSTER_URL']?.trim();
	if (external) {
		const client = connectTo(external);
		try {
			await flushTarget(client, false);
		} finally {
			client.disconnect();
		}

		return {url: external, leasedDatabase: false, stop: async () => {}};
	}

	const cluster = await startLocalRedisCluster({masters: 3});
	return {url: cluster.url, leasedDatabase: false, stop: cluster.stop};
}

/**
 * A client configured the way RedisConnections configures them (deadlines, reconnect backoff,
 * bounded offline queue), so contract suites exercise production settings; the deadline is
 * generous because test files share a busy machine.
 */
function connectTo(url: string): RedisClient {
	return createRedisClient(parseRedisUrl(url, 'default'), {
		connectionName: 'msdb:test',
		commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS,
		connectTimeoutMs: TEST_COMMAND_TIMEOUT_MS,
	}).client;
}

async function flushTarget(client: RedisClient, leasedDatabase: boolean): Promise<void> {
	if (leasedDatabase && client instanceof Redis) {
		await client.flushdb();
		return;
	}

	if (client instanceof Cluster && client.status !== 'ready') {
		// nodes('master') is empty until the cluster has loaded its slot map.
		await client.ping();
	}

	await Promise.all(masterNodes(client).map(async node => node.flushall()));
}
