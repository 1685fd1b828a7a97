/**
 * The session store contract, against real Redis: a standalone server and a three-master
 * Redis Cluster (describeForEachRedisTarget). Every acceptance point of the session store is
 * shown here with a check that fails if the feature breaks.
 */
import {setTimeout as sleep} from 'node:timers/promises';
import type {Redis} from 'ioredis';
import {afterAll, afterEach, beforeAll, describe, expect, inject, it} from 'vitest';
import {isCluster, masterNodes, type RedisClient} from '../source/core/redis/redis-client.js';
import {hashSessionToken, RedisSessionStore, sessionKey, sessionNamespace, type SessionStoreOptions} from '../source/core/sessions/index.js';
import {describeForEachRedisTarget, type RedisTarget} from './support/redis-targets.js';

const ENV = 'test';

/** Every primary behind the client (the cluster's slot map is loaded by the first command). */
async function primaries(client: RedisClient): Promise<Redis[]> {
	await client.ping();
	return masterNodes(client);
}

/** Every key with every value (type-aware, and the DUMP serialisation), from every primary. */
async function dumpEverything(client: RedisClient): Promise<{keys: string[]; text: string; raw: Buffer[]}> {
	const keys: string[] = [];
	const values: string[] = [];
	const raw: Buffer[] = [];
	for (const node of await primaries(client)) {
		let cursor = '0';
		do {
			const [next, batch] = await node.scan(cursor, 'COUNT', 1000);
			cursor = next;
			for (const key of batch) {
				keys.push(key);
				const type = await node.type(key);
				const value =
					type === 'hash' ? await node.hgetall(key)
					: type === 'zset' ? await node.zrange(key, 0, -1, 'WITHSCORES')
					: type === 'set' ? await node.smembers(key)
					: type === 'list' ? await node.lrange(key, 0, -1)
					: type === 'string' ? await node.get(key)
					: type;
				values.push(JSON.stringify(value));
				const dumped = await node.dumpBuffer(key);
				if (dumped) {
					raw.push(dumped);
				}
			}
		} while (cursor !== '0');
	}

	return {keys, text: [...keys, ...values].join('\n'), raw};
}

/** Server-side count of writes (every write bumps it; reads never do), over every primary. */
async function writesSoFar(client: RedisClient): Promise<number> {
	let total = 0;
	for (const node of await primaries(client)) {
		total += Number(/rdb_changes_since_last_save:(\d+)/.exec(await node.info('persistence'))?.[1]);
	}

	return total;
}

/** SCAN commands the server has run, over every primary (INFO commandstats; it counts every client). */
async function scansSoFar(client: RedisClient): Promise<number> {
	let total = 0;
	for (const node of await primaries(client)) {
		total += Number(/^cmdstat_scan:calls=(\d+)/m.exec(await node.info('commandstats'))?.[1] ?? 0);
	}

	return total;
}

describeForEachRedisTarget('session store contract', (target: () => RedisTarget) => {
	let client: RedisClient;
	const stores: RedisSessionStore[] = [];
	const open = (options: SessionStoreOptions = {}) => {
		const store = new RedisSessionStore(client, {env: ENV, ...options});
		stores.push(store);
		return store;
	};

	beforeAll(() => {
		client = target().connect();
	});
	afterEach(async () => target().flush());
	afterAll(async () => {
		await client.quit();
	});

	it('create issues a 256-bit base64url token and get returns the session; the id is not the token', async () => {
		const store = open();
		const {token, session} = await store.create('alice', {role: 'admin', cart: [1, 2], nothing: null, skipped: undefined});
		expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect(Buffer.from(token, 'base64url')).toHaveLength(32);
		expect(session.id).toMatch(/^[0-9a-f]{16}$/);
		expect(token).not.toContain(session.id);
		expect(session.data).toEqual({role: 'admin', cart: [1, 2], nothing: null});
		const read = await store.get(token);
		expect(read).toEqual({...session, idleExpiresAt: expect.any(Date)});
		expect(read!.expiresAt.getTime() - read!.createdAt.getTime()).toBe(store.options.absoluteTtlMs);
		const other = await store.create('alice', {});
		expect(other.token).not.toBe(token);
	});

	it('unknown, malformed and hostile tokens read as no session and write nothing', async () => {
		const store = open();
		const before = await writesSoFar(client);
		for (const token of ['', 'x', 'a'.repeat(43), '{tag}'.padEnd(43, 'a'), 'ab:cd*'.padEnd(43, '?'), 42 as unknown as string]) {
			expect(await store.get(token)).toBeUndefined();
			expect(await store.touch(token)).toBe(false);
			expect(await store.update(token, {x: 1})).toBe(false);
			expect(await store.destroy(token)).toBe(false);
			expect(await store.regenerate(token)).toBeUndefined();
		}

		expect(await writesSoFar(client)).toBe(before);
		expect((await dumpEverything(client)).keys).toEqual([]);
	});

	it('scanning every key and dumping every value finds no issued token (only hashes)', async () => {
		const store = open();
		const tokens: string[] = [];
		for (const user of ['alice', 'bob', 'carol:{1}']) {
			for (let index = 0; index < 4; index++) {
				const {token} = await store.create(user, {index, user});
				tokens.push(token);
				await store.update(token, {seen: true});
				await store.touch(token);
			}
		}

		const regenerated = await store.regenerate(tokens[0]!);
		tokens.push(regenerated!.token);
		const dump = await dumpEverything(client);
		expect(dump.keys.length).toBeGreaterThanOrEqual(12);
		for (const token of tokens) {
			expect(dump.text).not.toContain(token);
			expect(dump.text).not.toContain(Buffer.from(token, 'base64url').toString('hex'));
			for (const serialised of dump.raw) {
				expect(serialised.includes(token)).toBe(false);
				expect(serialised.includes(Buffer.from(token, 'base64url'))).toBe(false);
			}
		}

		// What is there instead: the sha256 of each live token names its session.
		expect(dump.keys).toContain(sessionKey(sessionNamespace(ENV), hashSessionToken(regenerated!.token)));
	});

	it('a session unused for its idle TTL ends, and one in use stays alive past it', async () => {
		const store = open({idleTtlMs: 600, touchAfterMs: 100});
		const idle = await store.create('alice', {});
		const busy = await store.create('alice', {});
		const started = Date.now();
		while (Date.now() - started < 1500) {
			expect(await store.get(busy.token)).toBeDefined();
			await sleep(100);
		}

		expect(await store.get(idle.token)).toBeUndefined();
		expect(await store.get(busy.token)).toBeDefined();
		await sleep(800);
		expect(await store.get(busy.token)).toBeUndefined();
		expect(await store.listForUser('alice')).toEqual([]);
	});

	it('the absolute cap ends a session however busy it is, and no TTL ever reaches past it', async () => {
		const store = open({idleTtlMs: 500, absoluteTtlMs: 1300, touchAfterMs: 50});
		const {token, session} = await store.create('alice', {});
		const key = sessionKey(sessionNamespace(ENV), hashSessionToken(token));
		let aliveAfterIdle = false;
		while (Date.now() < session.expiresAt.getTime() - 150) {
			const read = await store.get(token);
			expect(read).toBeDefined();
			expect(read!.idleExpiresAt.getTime()).toBeLessThanOrEqual(session.expiresAt.getTime());
			expect(Date.now() + (await client.pttl(key))).toBeLessThanOrEqual(session.expiresAt.getTime() + 50);
			aliveAfterIdle ||= Date.now() > session.createdAt.getTime() + 700;
			await sleep(50);
		}

		expect(aliveAfterIdle).toBe(true);
		await sleep(Math.max(0, session.expiresAt.getTime() - Date.now()) + 100);
		expect(await store.get(token)).toBeUndefined();
		expect(await store.touch(token)).toBe(false);
		expect(await store.update(token, {late: true})).toBe(false);
		expect(await client.exists(key)).toBe(0);
	});

	it('touch (and get) writes only when the remaining TTL falls below the threshold', async () => {
		const store = open({idleTtlMs: 60_000, touchAfterMs: 10_000});
		const {token} = await store.create('alice', {});
		const key = sessionKey(sessionNamespace(ENV), hashSessionToken(token));

		// Fresh session: 100 reads and 100 touches write nothing, and the TTL only runs down.
		let writes = await writesSoFar(client);
		let ttl = await client.pttl(key);
		for (let index = 0; index < 100; index++) {
			expect(await store.get(token)).toBeDefined();
			expect(await store.touch(token)).toBe(true);
		}

		expect(await writesSoFar(client)).toBe(writes);
		expect(await client.pttl(key)).toBeLessThanOrEqual(ttl);

		// As if 15 s had passed (45 s left < 60 s − 10 s): the next read writes once, back to 60 s…
		await client.pexpire(key, 45_000);
		writes = await writesSoFar(client);
		expect(await store.get(token, {touch: false})).toBeDefined();
		expect(await writesSoFar(client)).toBe(writes);
		expect(await store.get(token)).toBeDefined();
		expect(await writesSoFar(client)).toBe(writes + 1);
		ttl = await client.pttl(key);
		expect(ttl).toBeGreaterThan(59_000);

		// …and the reads after it write nothing again.
		for (let index = 0; index < 50; index++) {
			await store.get(token);
		}

		expect(await writesSoFar(client)).toBe(writes + 1);
		await client.pexpire(key, 45_000);
		writes = await writesSoFar(client);
		expect(await store.touch(token)).toBe(true);
		expect(await writesSoFar(client)).toBe(writes + 1);
		expect(await client.pttl(key)).toBeGreaterThan(59_000);
	});

	it('near the absolute cap, reads write nothing (there is no idle time left to add)', async () => {
		const store = open({idleTtlMs: 60_000, absoluteTtlMs: 30_000, touchAfterMs: 10_000});
		const {token} = await store.create('alice', {});
		const writes = await writesSoFar(client);
		for (let index = 0; index < 50; index++) {
			await store.get(token);
			await store.touch(token);
		}

		expect(await writesSoFar(client)).toBe(writes);
	});

	it('update sets and deletes single keys, and never recreates an ended session', async () => {
		const store = open();
		const {token} = await store.create('alice', {a: 1, b: 2, c: 3});
		expect(await store.update(token, {a: 10, b: undefined, d: {nested: ['x']}, e: null})).toBe(true);
		expect((await store.get(token))!.data).toEqual({a: 10, c: 3, d: {nested: ['x']}, e: null});
		expect(await store.update(token, {})).toBe(true);
		await expect(store.update(token, {f: () => 1})).rejects.toThrow(TypeError);
		await expect(store.update(token, {g: 1n})).rejects.toThrow(TypeError);
		await store.update(token, {['__proto__']: 'plain key'});
		expect(Object.getPrototypeOf((await store.get(token))!.data)).toBe(Object.prototype);
		expect(Object.keys((await store.get(token))!.data)).toContain('__proto__');

		expect(await store.destroy(token)).toBe(true);
		expect(await store.destroy(token)).toBe(false);
		expect(await store.update(token, {a: 11})).toBe(false);
		expect(await client.exists(sessionKey(sessionNamespace(ENV), hashSessionToken(token)))).toBe(0);
		expect(await store.listForUser('alice')).toEqual([]);
	});

	it('50 concurrent updates of different keys of one session all survive', async () => {
		const store = open();
		const {token} = await store.create('alice', {base: true});
		// Five connections, ten updates each, all in flight at once: a read-modify-write of one
		// JSON document would keep only some of them.
		const connections = Array.from({length: 5}, () => target().connect());
		try {
			const perConnection = connections.map(connection => new RedisSessionStore(connection, {env: ENV}));
			const results = await Promise.all(
				Array.from({length: 50}, async (_, index) => perConnection[index % 5]!.update(token, {[`field${index}`]: index})),
			);
			expect(results.every(Boolean)).toBe(true);
		} finally {
			await Promise.all(connections.map(async connection => connection.quit()));
		}

		const {data} = (await store.get(token))!;
		expect(Object.keys(data)).toHaveLength(51);
		for (let index = 0; index < 50; index++) {
			expect(data[`field${index}`]).toBe(index);
		}
	});

	it('reads issued together each get their own answer (and share round trips on a standalone server)', async () => {
		const store = open();
		const live = await Promise.all(Array.from({length: 40}, async (_, index) => store.create(`user${index}`, {index})));
		const ended = await store.create('gone', {});
		await store.destroy(ended.token);
		const scriptCalls = async () => {
			let calls = 0;
			for (const node of await primaries(client)) {
				calls += Number(/cmdstat_evalsha:calls=(\d+)/.exec(await node.info('commandstats'))?.[1] ?? 0);
				calls += Number(/cmdstat_eval:calls=(\d+)/.exec(await node.info('commandstats'))?.[1] ?? 0);
			}

			return calls;
		};

		const before = await scriptCalls();
		const [reads, touches, quiet, missing] = await Promise.all([
			Promise.all(live.map(async ({token}) => store.get(token))),
			Promise.all(live.slice(0, 10).map(async ({token}) => store.touch(token))),
			Promise.all(live.slice(0, 10).map(async ({token}) => store.get(token, {touch: false}))),
			Promise.all([store.get(ended.token), store.touch(ended.token)]),
		]);
		const calls = (await scriptCalls()) - before;
		expect(reads.map(session => session?.data['index'])).toEqual(live.map((_, index) => index));
		expect(touches).toEqual(Array.from({length: 10}, () => true));
		expect(quiet.map(session => session?.userId)).toEqual(live.slice(0, 10).map(issued => issued.session.userId));
		expect(missing).toEqual([undefined, false]);
		// 62 reads: on one server a handful of script calls; on a cluster one per read.
		expect(calls).toBeLessThanOrEqual(isCluster(client) ? 62 : 4);
	});

	it('regenerate keeps the data, user and cap under a new token; the old token stops working', async () => {
		const store = open();
		const {token, session} = await store.create('alice', {role: 'user', cart: [3]});
		const renewed = await store.regenerate(token);
		expect(renewed).toBeDefined();
		expect(renewed!.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect(renewed!.token).not.toBe(token);
		expect(renewed!.session.id).not.toBe(session.id);
		expect(renewed!.session).toMatchObject({userId: 'alice', data: {role: 'user', cart: [3]}, createdAt: session.createdAt, expiresAt: session.expiresAt});
		expect((await store.get(renewed!.token))!.data).toEqual({role: 'user', cart: [3]});

		expect(await store.get(token)).toBeUndefined();
		expect(await store.touch(token)).toBe(false);
		expect(await store.update(token, {role: 'admin'})).toBe(false);
		expect(await store.regenerate(token)).toBeUndefined();
		expect((await store.get(renewed!.token))!.data['role']).toBe('user');
		expect((await store.listForUser('alice')).map(summary => summary.id)).toEqual([renewed!.session.id]);
	});

	it('regenerate is atomic: an update racing it lands in the new session or reports the session gone', async () => {
		const store = open();
		// Updates and the regenerate travel on different connections, so Redis interleaves them.
		const otherConnection = target().connect();
		try {
			const regenerator = new RedisSessionStore(otherConnection, {env: ENV});
			for (let round = 0; round < 5; round++) {
				const {token} = await store.create('alice', {});
				const early = Array.from({length: 10}, async (_, index) => store.update(token, {[`k${index}`]: index}));
				const renewing = regenerator.regenerate(token);
				const late = Array.from({length: 10}, async (_, index) => store.update(token, {[`k${index + 10}`]: index}));
				const [renewed, ...results] = await Promise.all([renewing, ...early, ...late]);
				const {data} = (await store.get(renewed!.token))!;
				for (const [index, landed] of results.entries()) {
					// true means "written to a live session": it must be in the regenerated one.
					expect(`k${index}` in data, `update k${index}`).toBe(landed);
				}

				expect(await store.get(token)).toBeUndefined();
			}
		} finally {
			await otherConnection.quit();
		}
	});

	it('destroyAllForUser ends every session of that user and only that user', async () => {
		const store = open();
		const alice = await Promise.all(Array.from({length: 4}, async () => store.create('alice', {who: 'alice'})));
		const bob = await Promise.all(Array.from({length: 3}, async () => store.create('bob', {who: 'bob'})));
		// A user whose id extends alice's must not be caught by any prefix match.
		const alicia = await store.create('alice2', {});

		const revoked = await store.destroyAllForUser('alice');
		expect(revoked.sort()).toEqual(alice.map(issued => issued.session.id).sort());
		for (const {token} of alice) {
			expect(await store.get(token)).toBeUndefined();
		}

		for (const {token} of [...bob, alicia]) {
			expect(await store.get(token)).toBeDefined();
		}

		expect(await store.listForUser('alice')).toEqual([]);
		expect(await store.listForUser('bob')).toHaveLength(3);
		expect(await store.destroyAllForUser('alice')).toEqual([]);
		expect(await store.count()).toBe(4);
	});

	it('listForUser and destroyAllForUser use the per-user index: not one SCAN', async context => {
		// Another test file's SCANs on a shared server would move the server-wide counter.
		context.skip(target().kind === 'standalone' && inject('redisSource') !== 'local', 'needs a server of its own');
		const store = open();
		const alice: string[] = [];
		for (let index = 0; index < 5; index++) {
			alice.push((await store.create('alice', {index})).session.id);
			await sleep(2); // distinct creation times, so the listing order is known
		}

		const bob = await Promise.all(Array.from({length: 3}, async () => store.create('bob', {})));
		await store.create('alice2', {});
		const before = await scansSoFar(client);
		expect((await store.listForUser('alice')).map(summary => summary.id)).toEqual(alice);
		expect((await store.destroyAllForUser('alice')).sort()).toEqual([...alice].sort());
		expect(await store.listForUser('alice')).toEqual([]);
		expect((await store.listForUser('bob')).map(summary => summary.id).sort()).toEqual(bob.map(issued => issued.session.id).sort());
		expect(await scansSoFar(client)).toBe(before);
		// The control: count() does SCAN every primary, and the counter sees it.
		expect(await store.count()).toBe(4);
		expect(await scansSoFar(client)).toBeGreaterThanOrEqual(before + (await primaries(client)).length);
	});

	it('listForUser reads the index: metadata only, oldest first, pruning sessions that ended', async () => {
		const store = open({idleTtlMs: 400, touchAfterMs: 50});
		const first = await store.create('alice', {secret: 'data'});
		// Creation times are in ms; on a cluster the two may come from different masters.
		await sleep(5);
		const second = await store.create('alice', {}, {idleTtlMs: 60_000});
		const listed = await store.listForUser('alice');
		expect(listed.map(summary => summary.id)).toEqual([first.session.id, second.session.id]);
		expect(listed[0]).toEqual({id: first.session.id, userId: 'alice', createdAt: first.session.createdAt, idleExpiresAt: expect.any(Date), expiresAt: first.session.expiresAt});
		expect(JSON.stringify(listed)).not.toContain('secret');

		await sleep(600);
		expect((await store.listForUser('alice')).map(summary => summary.id)).toEqual([second.session.id]);
		// The dead member was removed from the index, not just hidden.
		expect(await client.zcard(`ms:${ENV}:sessions:u:alice`)).toBe(1);
	});

	it('destroyById ends one session by its non-secret id, only for its own user', async () => {
		const store = open();
		const one = await store.create('alice', {});
		const two = await store.create('alice', {});
		const bobs = await store.create('bob', {});
		expect(await store.destroyById('bob', one.session.id)).toBe(false);
		expect(await store.destroyById('alice', bobs.session.id)).toBe(false);
		expect(await store.destroyById('alice', 'not-an-id')).toBe(false);
		expect(await store.destroyById('alice', one.session.id)).toBe(true);
		expect(await store.get(one.token)).toBeUndefined();
		expect(await store.get(two.token)).toBeDefined();
		expect(await store.get(bobs.token)).toBeDefined();
		expect(await store.destroyById('alice', one.session.id)).toBe(false);
	});

	it('user ids with colons, braces, pipes, spaces and non-ASCII stay inside the namespace and their own index', async () => {
		const store = open();
		const ids = ['a:b', '{tag}', 'x y', 'ünï', '=QQ', 'user@example.com', 'a|1|2|3'];
		for (const userId of ids) {
			await store.create(userId, {userId});
		}

		for (const userId of ids) {
			const listed = await store.listForUser(userId);
			expect(listed.map(summary => summary.userId)).toEqual([userId]);
		}

		expect((await dumpEverything(client)).keys.every(key => key.startsWith(`ms:${ENV}:sessions:`))).toBe(true);
		expect(await store.destroyAllForUser('{tag}')).toHaveLength(1);
		expect(await store.count()).toBe(ids.length - 1);
	});

	it('count() counts live sessions on every primary, per environment', async () => {
		const store = open();
		const other = open({env: 'other'});
		await Promise.all(Array.from({length: 30}, async (_, index) => store.create(`user${index % 7}`, {})));
		await other.create('alice', {});
		expect(await store.count()).toBe(30);
		expect(await other.count()).toBe(1);
		if (isCluster(client)) {
			// The sessions really are spread over the masters, so count() had to visit them all.
			const perNode = await Promise.all((await primaries(client)).map(async node => (await node.keys(`ms:${ENV}:sessions:s:*`)).length));
			expect(perNode.filter(count => count > 0).length).toBeGreaterThan(1);
		}
	});

	it('refuses lifetimes that cannot work', async () => {
		expect(() => open({idleTtlMs: 0})).toThrow(/idleTtlMs/);
		expect(() => open({idleTtlMs: 1000, touchAfterMs: 1000})).toThrow(/touchAfterMs/);
		const store = open({idleTtlMs: 60_000, touchAfterMs: 10_000});
		await expect(store.create('alice', {}, {idleTtlMs: 5000})).rejects.toThrow(/touchAfterMs/);
		await expect(store.create('', {})).rejects.toThrow(TypeError);
	});
});

describe('session store options', () => {
	it('defaults: 30 min idle, 12 h cap, touch after a tenth of the idle TTL, env from MSDB_ENV', async () => {
		const {resolveSessionStoreOptions} = await import('../source/core/sessions/index.js');
		expect(resolveSessionStoreOptions({}, {MSDB_ENV: 'prod'})).toEqual({idleTtlMs: 1_800_000, absoluteTtlMs: 43_200_000, touchAfterMs: 180_000, env: 'prod'});
	});
});
