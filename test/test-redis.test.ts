import {Redis} from 'ioredis';
import {describe, expect, inject, it} from 'vitest';
import {createTestRedis, useTestRedis} from './support/test-redis.js';

async function withClient<T>(url: string, work: (client: Redis) => Promise<T>): Promise<T> {
	const client = new Redis(url, {lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null});
	client.on('error', () => {}); // connect() rejects with the same error
	await client.connect();
	try {
		return await work(client);
	} finally {
		client.disconnect();
	}
}

describe('test Redis', () => {
	const fileRedis = useTestRedis();

	it('gives the file an empty Redis that is not the shared one', async () => {
		expect(fileRedis.url).not.toBe(inject('redisUrl'));
		expect(await withClient(fileRedis.url, async client => client.dbsize())).toBe(0);
	});

	it('keeps two instances apart, and stop() cleans up', async () => {
		const first = await createTestRedis();
		const second = await createTestRedis();
		try {
			expect(first.url).not.toBe(second.url);
			await withClient(first.url, async client => client.set('only-in-first', '1'));
			expect(await withClient(second.url, async client => client.exists('only-in-first'))).toBe(0);
			expect(await withClient(fileRedis.url, async client => client.exists('only-in-first'))).toBe(0);
		} finally {
			await second.stop();
		}

		await first.stop();
		await first.stop(); // idempotent
		if (inject('redisSource') === 'local') {
			// A private server: gone.
			await expect(withClient(first.url, async client => client.ping())).rejects.toThrow(/ECONNREFUSED|Connection is closed/);
		} else {
			// A leased logical database: flushed.
			expect(await withClient(first.url, async client => client.dbsize())).toBe(0);
		}
	});
});
