/**
 * An isolated Redis per test file, since the features under test flush, dump and restore
 * whole databases:
 *
 * - when the global setup started local binaries, each call starts a private redis-server
 *   (tens of milliseconds) that `stop()` shuts down and deletes;
 * - when Redis came from MSDB_TEST_REDIS_URL or Docker, each call leases one of the logical
 *   databases 1–15 of that server (a `SET NX` lease key in the URL's own database), flushes it,
 *   and `stop()` flushes it again and returns the lease. That server must be dedicated to tests.
 */
import {randomBytes} from 'node:crypto';
import {Redis} from 'ioredis';
import {afterAll, beforeAll, inject} from 'vitest';
import {startLocalRedis} from '../../source/core/provision/index.js';

export type TestRedis = {
	/** Connection URL; for a leased logical database it ends in `/<db>`. */
	url: string;
	/** Shuts the private server down, or flushes and releases the leased database. Idempotent. */
	stop(): Promise<void>;
};

const LEASE_KEY_PREFIX = 'msdb:test:redis-db-lease:';
// Long enough for any test file; short enough that a crashed run frees its databases soon.
const LEASE_MS = 60 * 60 * 1000;
const LOGICAL_DATABASES = 16;

async function leaseLogicalDatabase(serverUrl: string): Promise<TestRedis> {
	const control = new Redis(serverUrl, {lazyConnect: true, maxRetriesPerRequest: 1});
	await control.connect();
	const token = randomBytes(8).toString('hex');
	const home = control.options.db ?? 0;
	try {
		for (let db = 1; db < LOGICAL_DATABASES; db++) {
			if (db === home) {
				continue;
			}

			const leased = await control.set(`${LEASE_KEY_PREFIX}${db}`, token, 'PX', LEASE_MS, 'NX');
			if (leased !== 'OK') {
				continue;
			}

			const url = new URL(serverUrl);
			url.pathname = `/${db}`;
			const leasedUrl = url.toString();
			await withClient(leasedUrl, async client => client.flushdb());
			let stopped: Promise<void> | undefined;
			return {
				url: leasedUrl,
				stop: async () => {
					stopped ??= (async () => {
						await withClient(leasedUrl, async client => client.flushdb());
						await withClient(serverUrl, async client => {
							if ((await client.get(`${LEASE_KEY_PREFIX}${db}`)) === token) {
								await client.del(`${LEASE_KEY_PREFIX}${db}`);
							}
						});
					})();
					return stopped;
				},
			};
		}
	} finally {
		control.disconnect();
	}

	throw new Error(
		`createTestRedis(): all logical databases 1–${LOGICAL_DATABASES - 1} of the test Redis are leased; ` +
			`run fewer test files in parallel or delete the ${LEASE_KEY_PREFIX}* keys.`,
	);
}

async function withClient<T>(url: string, work: (client: Redis) => Promise<T>): Promise<T> {
	const client = new Redis(url, {lazyConnect: true, maxRetriesPerRequest: 1});
	await client.connect();
	try {
		return await work(client);
	} finally {
		client.disconnect();
	}
}

/** An empty Redis this test file has to itself (see the file comment for how). */
export async function createTestRedis(): Promise<TestRedis> {
	if (inject('redisSource') === 'local') {
		const server = await startLocalRedis();
		return {url: server.url, stop: server.stop};
	}

	return leaseLogicalDatabase(inject('redisUrl'));
}

/** What {@link useTestRedis} returns: read `url` inside tests and hooks, not at file level. */
export type TestRedisHandle = {readonly url: string};

/** Registers beforeAll/afterAll hooks around {@link createTestRedis} for the current file. */
export function useTestRedis(): TestRedisHandle {
	let redis: TestRedis | undefined;
	beforeAll(async () => {
		redis = await createTestRedis();
	});
	afterAll(async () => {
		await redis?.stop();
	});
	return {
		get url() {
			if (!redis) {
				throw new Error('useTestRedis(): the Redis exists only inside tests and hooks that run after beforeAll.');
			}

			return redis.url;
		},
	};
}
