import {expect, it} from 'vitest';
import {isCluster} from '../source/core/redis/redis-client.js';
import {hashTag, redisKey} from '../source/core/redis/key-names.js';
import {describeForEachRedisTarget} from './support/redis-targets.js';

describeForEachRedisTarget('redis target', target => {
	it('connect() gives a client that can SET/GET, and MGET keys sharing a hash tag', async () => {
		const client = target().connect();
		try {
			expect(isCluster(client)).toBe(target().kind === 'cluster');
			const namespace = {env: 'test', domain: 'targets'};
			const keys = ['a', 'b', 'c'].map(id => redisKey(namespace, hashTag('user:42'), id));
			await client.set(keys[0]!, 'one');
			expect(await client.get(keys[0]!)).toBe('one');
			await client.set(keys[1]!, 'two');
			// Without the hash tag these keys would land in different slots and MGET would fail with CROSSSLOT.
			expect(await client.mget(...keys)).toEqual(['one', 'two', null]);
			if (target().kind === 'cluster') {
				// 'foo' and 'bar' hash to different slots: proof that the hash tag above is what made MGET work.
				await expect(client.mget('foo', 'bar')).rejects.toThrow(/CROSSSLOT/);
			}
		} finally {
			client.disconnect();
		}
	});

	it('flush() empties every master', async () => {
		const client = target().connect();
		try {
			// Keys without a shared tag spread over all masters of a cluster.
			for (let index = 0; index < 30; index++) {
				await client.set(`spread:${index}`, '1');
			}

			await target().flush();
			for (let index = 0; index < 30; index++) {
				expect(await client.exists(`spread:${index}`)).toBe(0);
			}
		} finally {
			client.disconnect();
		}
	});
});
