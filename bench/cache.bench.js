// Part of npm run bench: the multi-level cache (build/core/cache) against references measured in
// this same run, on one private redis-server, reported as ratios (never as absolute timings).
//
// 1. L1 hits: msdb `get` / `getOrLoad` on a warm key vs bentocache 1.6's memory tier (`get` /
//    `getOrSet`), awaited one after another as bentocache's own benchmarks do. Both libraries in
//    both of their L1 modes: holding one shared value (msdb `frozen`, bentocache
//    `serialize: false`) and handing out copies (msdb `copy`, bentocache's default, which keeps
//    the serialized string and parses it on every hit). Headline: each library's default.
// 2. L2 hits at 64 concurrent callers: msdb `get` with no L1 (every read goes to Redis) vs raw
//    ioredis GET of the same payload on its own connection. Also reported: raw GET + JSON.parse
//    (raw GET returns a string, the cache a parsed value), ioredis with enableAutoPipelining,
//    and bentocache with only its Redis tier.
//
// Method: keys and values are generated before any timed loop; every contender gets its own
// connection with the same options; contenders run interleaved round by round, so drift of the
// machine hits them alike; medians over rounds. Latency: L1 hits are too short to time one by
// one (performance.now() costs as much as the hit), so their p99 is over batches of 1,000 hits
// (per-hit average within a batch); L2 reads are timed one by one.
//
// Environment: MSDB_BENCH_CACHE_ROUNDS (default 7), MSDB_BENCH_REDIS_URL (an existing server;
// it is FLUSHALLed) else a private redis-server from local binaries.
import {mkdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {BentoCache, bentostore} from 'bentocache';
import {memoryDriver} from 'bentocache/drivers/memory';
import {redisDriver} from 'bentocache/drivers/redis';
import {Redis} from 'ioredis';
import {MultiLevelCache} from '../build/core/cache/index.js';
import {startLocalRedis} from '../build/core/provision/index.js';
import {median} from './bench-kit.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = path.join(root, 'bench', '.work');
const rounds = Number(process.env.MSDB_BENCH_CACHE_ROUNDS ?? 7);
const KEYS = 1000;
const L1_OPS = 200_000;
const L1_BATCH = 1000;
const L2_OPS = 40_000;
const CONCURRENCY = 64;

const percentile = (values, fraction) => {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
};

/** A payload like a small row: ~120 bytes of JSON. */
const makeValue = index => ({id: index, name: `user ${index}`, email: `user${index}@example.com`, roles: ['reader', 'writer'], active: index % 3 !== 0});

/** L1: `read(key)` awaited one after another; ops/s and p99 of per-hit time over batches. */
async function timeSequential(read, keys) {
	const batchMicros = [];
	const started = performance.now();
	for (let done = 0; done < L1_OPS; done += L1_BATCH) {
		const batchStarted = performance.now();
		for (let index = done; index < done + L1_BATCH; index++) {
			await read(keys[index % KEYS]);
		}

		batchMicros.push(((performance.now() - batchStarted) * 1000) / L1_BATCH);
	}

	const seconds = (performance.now() - started) / 1000;
	return {opsPerSecond: L1_OPS / seconds, p50Micros: percentile(batchMicros, 0.5), p99Micros: percentile(batchMicros, 0.99)};
}

/** L2: CONCURRENCY callers, each awaiting its read before the next; every read timed. */
async function timeConcurrent(read, keys) {
	const latencies = new Float64Array(L2_OPS);
	let issued = 0;
	const started = performance.now();
	await Promise.all(
		Array.from({length: CONCURRENCY}, async () => {
			while (issued < L2_OPS) {
				const index = issued++;
				const readStarted = performance.now();
				const value = await read(keys[index % KEYS]);
				latencies[index] = performance.now() - readStarted;
				if (value === undefined || value === null) {
					throw new Error(`bench: a read of ${JSON.stringify(keys[index % KEYS])} missed`);
				}
			}
		}),
	);
	const seconds = (performance.now() - started) / 1000;
	return {opsPerSecond: L2_OPS / seconds, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99)};
}

function summarize(samples) {
	const summary = {};
	for (const [name, runs] of Object.entries(samples)) {
		summary[name] = {};
		for (const field of Object.keys(runs[0])) {
			summary[name][field] = median(runs.map(run => run[field]));
		}
	}

	return summary;
}

async function main() {
	const external = process.env.MSDB_BENCH_REDIS_URL;
	const server = external ? undefined : await startLocalRedis();
	const url = external ?? server.url;
	const connections = [];
	const connect = (options = {}) => {
		const client = new Redis(url, {maxRetriesPerRequest: 1, ...options});
		connections.push(client);
		return client;
	};

	const closers = [];
	try {
		const admin = connect();
		await admin.flushall();
		const keys = Array.from({length: KEYS}, (_, index) => `bench:user:${index}`);
		const values = keys.map((_, index) => makeValue(index));
		process.stderr.write(`bench: cache, ${rounds} rounds, Redis at ${url}${external ? '' : ' (private)'}\n`);

		// ── contenders ────────────────────────────────────────────────────────────────────
		const msdbL1 = {
			frozen: new MultiLevelCache({namespace: 'bench-l1-frozen', l1: {maxEntries: 10_000, values: 'frozen'}, stats: {publishIntervalMs: 0}}),
			copy: new MultiLevelCache({namespace: 'bench-l1-copy', l1: {maxEntries: 10_000, values: 'copy'}, stats: {publishIntervalMs: 0}}),
		};
		const bentoL1 = {
			serialized: new BentoCache({default: 'memory', stores: {memory: bentostore().useL1Layer(memoryDriver({maxItems: 10_000}))}}),
			reference: new BentoCache({default: 'memory', stores: {memory: bentostore().useL1Layer(memoryDriver({maxItems: 10_000, serialize: false}))}}),
		};
		const msdbL2 = new MultiLevelCache({redis: connect(), namespace: 'bench-l2', l1: false, ttlMs: 3_600_000, stats: {publishIntervalMs: 0}});
		const bentoL2 = new BentoCache({default: 'redis', stores: {redis: bentostore().useL2Layer(redisDriver({connection: connect()}))}});
		const raw = connect();
		const rawPipelined = connect({enableAutoPipelining: true});
		closers.push(async () => {
			for (const cache of [...Object.values(msdbL1), msdbL2]) {
				await cache.close();
			}

			for (const cache of [...Object.values(bentoL1), bentoL2]) {
				await cache.disconnect().catch(() => {});
			}
		});

		for (let index = 0; index < KEYS; index++) {
			const [key, value] = [keys[index], values[index]];
			for (const cache of Object.values(msdbL1)) {
				await cache.set(key, value);
			}

			for (const cache of Object.values(bentoL1)) {
				await cache.set({key, value, ttl: '1h'});
			}

			await msdbL2.set(key, value);
			await bentoL2.set({key, value, ttl: '1h'});
			await admin.set(`raw:${key}`, JSON.stringify(value));
		}

		const rawKeys = keys.map(key => `raw:${key}`);
		const factory = () => {
			throw new Error('bench: a warm key called its loader');
		};

		const l1Contenders = {
			'msdb get (frozen, default)': async key => msdbL1.frozen.get(key),
			'msdb get (copy)': async key => msdbL1.copy.get(key),
			'msdb getOrLoad (frozen, default)': async key => msdbL1.frozen.getOrLoad(key, factory),
			'bentocache get (serialized, default)': async key => bentoL1.serialized.get({key}),
			'bentocache get (serialize: false)': async key => bentoL1.reference.get({key}),
			'bentocache getOrSet (serialized, default)': async key => bentoL1.serialized.getOrSet({key, factory, ttl: '1h'}),
		};
		const l2Contenders = {
			'msdb get, L2 only': async key => msdbL2.get(key),
			'raw ioredis GET': async (_key, rawKey) => raw.get(rawKey),
			'raw ioredis GET + JSON.parse': async (_key, rawKey) => JSON.parse(await raw.get(rawKey)),
			'ioredis GET, enableAutoPipelining': async (_key, rawKey) => rawPipelined.get(rawKey),
			'bentocache get, L2 only': async key => bentoL2.get({key}),
		};

		// Warm-up: JIT, connections, and a check that every contender reads what was written.
		for (const [name, read] of Object.entries(l1Contenders)) {
			for (let index = 0; index < 20_000; index++) {
				const value = await read(keys[index % KEYS]);
				if (value?.id !== index % KEYS) {
					throw new Error(`bench: ${name} read ${JSON.stringify(value)} for ${keys[index % KEYS]}`);
				}
			}
		}

		const l2Keys = keys.map((key, index) => ({key, rawKey: rawKeys[index]}));
		const l2Reader = read => async ({key, rawKey}) => read(key, rawKey);
		for (const read of Object.values(l2Contenders)) {
			await Promise.all(l2Keys.map(l2Reader(read)));
		}

		// ── rounds ─────────────────────────────────────────────────────────────────────────
		const batchingBefore = msdbL2.stats().l2;
		const l1Samples = Object.fromEntries(Object.keys(l1Contenders).map(name => [name, []]));
		const l2Samples = Object.fromEntries(Object.keys(l2Contenders).map(name => [name, []]));
		for (let round = 1; round <= rounds; round++) {
			// Alternate the order, so no contender always runs first (or last) in a round.
			const l1Order = Object.entries(l1Contenders);
			const l2Order = Object.entries(l2Contenders);
			if (round % 2 === 0) {
				l1Order.reverse();
				l2Order.reverse();
			}

			for (const [name, read] of l1Order) {
				l1Samples[name].push(await timeSequential(read, keys));
			}

			for (const [name, read] of l2Order) {
				l2Samples[name].push(await timeConcurrent(l2Reader(read), l2Keys));
			}

			process.stderr.write(`bench: cache round ${round}/${rounds} done\n`);
		}

		const l1 = summarize(l1Samples);
		const l2 = summarize(l2Samples);
		const batchingAfter = msdbL2.stats().l2;
		const keysPerMget = (batchingAfter.batchedKeys - batchingBefore.batchedKeys) / (batchingAfter.batches - batchingBefore.batches);
		const ratio = (a, b) => a.opsPerSecond / b.opsPerSecond;
		const ratios = {
			l1GetDefaultVsBentoDefault: ratio(l1['msdb get (frozen, default)'], l1['bentocache get (serialized, default)']),
			l1GetSharedVsBentoShared: ratio(l1['msdb get (frozen, default)'], l1['bentocache get (serialize: false)']),
			l1GetCopyVsBentoDefault: ratio(l1['msdb get (copy)'], l1['bentocache get (serialized, default)']),
			l1GetOrLoadVsBentoGetOrSet: ratio(l1['msdb getOrLoad (frozen, default)'], l1['bentocache getOrSet (serialized, default)']),
			l2GetVsRawGet: ratio(l2['msdb get, L2 only'], l2['raw ioredis GET']),
			l2GetVsRawGetParse: ratio(l2['msdb get, L2 only'], l2['raw ioredis GET + JSON.parse']),
			l2GetVsAutoPipelining: ratio(l2['msdb get, L2 only'], l2['ioredis GET, enableAutoPipelining']),
			l2GetVsBentoL2: ratio(l2['msdb get, L2 only'], l2['bentocache get, L2 only']),
		};
		const results = {
			rounds,
			keys: KEYS,
			l1: {opsPerRound: L1_OPS, medians: l1},
			l2: {opsPerRound: L2_OPS, concurrency: CONCURRENCY, medians: l2, msdbKeysPerMget: keysPerMget},
			ratios,
			goals: {l1GetDefaultVsBentoDefault: '≥ 1.5', l2GetVsRawGet: '≥ 0.9'},
		};

		const fmt = value => (value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2));
		console.log(`L1 hits, awaited one after another, ${L1_OPS.toLocaleString('en-US')} per round; medians of ${rounds} rounds (p50/p99 µs per hit, over batches of ${L1_BATCH}):`);
		for (const [name, row] of Object.entries(l1)) {
			console.log(`  ${name.padEnd(44)} ${fmt(row.opsPerSecond).padStart(12)} ops/s   p50 ${row.p50Micros.toFixed(3)} µs   p99 ${row.p99Micros.toFixed(3)} µs`);
		}

		console.log(`L2 hits, ${CONCURRENCY} concurrent callers, ${L2_OPS.toLocaleString('en-US')} per round; medians of ${rounds} rounds (p50/p99 ms per read):`);
		for (const [name, row] of Object.entries(l2)) {
			console.log(`  ${name.padEnd(44)} ${fmt(row.opsPerSecond).padStart(12)} ops/s   p50 ${row.p50Ms.toFixed(3)} ms   p99 ${row.p99Ms.toFixed(3)} ms`);
		}

		console.log(`  (msdb sent ${fmt(results.l2.msdbKeysPerMget)} keys per MGET on average in the timed rounds)`);
		const line = (label, value, goal) => `${label.padEnd(72)} ${value.toFixed(2)}×   (goal ${goal})`;
		console.log(line('L1 get: msdb (frozen, default) / bentocache memory tier (default)', ratios.l1GetDefaultVsBentoDefault, '≥ 1.5'));
		console.log(line('L1 get: msdb (frozen) / bentocache (serialize: false), both shared values', ratios.l1GetSharedVsBentoShared, 'reported'));
		console.log(line('L1 get: msdb (copy) / bentocache (default), both fresh copies', ratios.l1GetCopyVsBentoDefault, 'reported'));
		console.log(line('L1 getOrLoad (msdb) / getOrSet (bentocache), both defaults', ratios.l1GetOrLoadVsBentoGetOrSet, 'reported'));
		console.log(line(`L2 get at ${CONCURRENCY} callers: msdb / raw ioredis GET`, ratios.l2GetVsRawGet, '≥ 0.9'));
		console.log(line(`L2 get at ${CONCURRENCY} callers: msdb / raw ioredis GET + JSON.parse`, ratios.l2GetVsRawGetParse, 'reported'));
		console.log(line(`L2 get at ${CONCURRENCY} callers: msdb / ioredis enableAutoPipelining GET`, ratios.l2GetVsAutoPipelining, 'reported'));
		console.log(line(`L2 get at ${CONCURRENCY} callers: msdb / bentocache (L2 only)`, ratios.l2GetVsBentoL2, 'reported'));
		await mkdir(work, {recursive: true});
		await writeFile(path.join(work, 'cache-results.json'), `${JSON.stringify(results, null, 2)}\n`);
	} finally {
		for (const close of closers) {
			await close();
		}

		for (const client of connections) {
			client.disconnect();
		}

		await server?.stop();
	}
}

await main();
