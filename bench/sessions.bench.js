// Part of npm run bench: msdb's session store against connect-redis 9 (the usual Express store,
// on a node-redis 5 client, as it requires) on the same private redis-server, in this run.
//
// One operation is what a web request costs the store for a session it reads and keeps alive:
// - msdb:          store.get(token): one EVALSHA that reads the HASH and extends the idle TTL
//                  only below the touch threshold (default: a tenth of the idle TTL)
// - connect-redis: store.get(sid) then store.touch(sid, session): GET + JSON.parse, then EXPIRE,
//                  which is what express-session does for an unmodified session
// Also reported: msdb with touchAfterMs 0 (a write on every read, like EXPIRE every time) and
// msdb get + an explicit touch() (two round trips, like connect-redis's two calls).
//
// Same for all: N sessions (default 10,000) created before any timing, a random but
// pre-generated sequence of which session each operation reads, C callers in flight
// (default 64), M operations per round (default 50,000), R rounds (default 5) after one warm-up
// round, variants in a rotating order per round. msdb uses the production connection settings
// (RedisConnections, role `sessions`: per-command deadline, bounded offline queue).
// Reported: median over rounds of ops/s and of each round's p50 / p99 latency, and the ratios.
//
// Environment: MSDB_BENCH_SESSIONS, MSDB_BENCH_CONCURRENCY, MSDB_BENCH_SESSION_OPS,
// MSDB_BENCH_ROUNDS. Results also go to bench/.work/sessions-results.json.
import {mkdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {RedisStore} from 'connect-redis';
import {createClient} from 'redis';
import {startLocalRedis} from '../build/core/provision/index.js';
import {resolveRedisConfig} from '../build/core/redis/redis-config.js';
import {RedisConnections} from '../build/core/redis/redis-connections.js';
import {RedisSessionStore} from '../build/core/sessions/index.js';
import {median} from './bench-kit.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = path.join(root, 'bench', '.work');
const sessionCount = Number(process.env.MSDB_BENCH_SESSIONS ?? 10_000);
const concurrency = Number(process.env.MSDB_BENCH_CONCURRENCY ?? 64);
const operations = Number(process.env.MSDB_BENCH_SESSION_OPS ?? 50_000);
const rounds = Number(process.env.MSDB_BENCH_ROUNDS ?? 5);
const IDLE_TTL_S = 30 * 60;

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** What a typical framework session holds, the same for both stores. */
const sessionData = index => ({
	userId: `user${index % 2000}`,
	role: index % 10 === 0 ? 'admin' : 'member',
	csrf: `csrf-${index}-${'x'.repeat(24)}`,
	locale: 'en-GB',
	cart: [index, index + 1, index + 2],
});

/** A pre-generated random order: no random numbers drawn and no strings built while timing. */
function readOrder(count) {
	const order = new Uint32Array(operations);
	let seed = 0x9e3779b9;
	for (let index = 0; index < operations; index++) {
		seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
		order[index] = seed % count;
	}

	return order;
}

/** C callers share one counter; each records every operation's latency. Returns ops/s and latencies. */
async function timedRound(keys, order, operation) {
	const latencies = new Float64Array(operations);
	let next = 0;
	const caller = async () => {
		for (;;) {
			const index = next++;
			if (index >= operations) {
				return;
			}

			const started = performance.now();
			await operation(keys[order[index]]);
			latencies[index] = performance.now() - started;
		}
	};

	const started = performance.now();
	await Promise.all(Array.from({length: concurrency}, caller));
	const elapsedMs = performance.now() - started;
	const sorted = latencies.sort();
	return {opsPerSecond: (operations / elapsedMs) * 1000, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99)};
}

async function main() {
	const redis = await startLocalRedis();
	const connections = new RedisConnections(resolveRedisConfig({redisUrl: redis.url}, {}));
	const nodeRedis = createClient({url: redis.url});
	nodeRedis.on('error', () => {});
	await nodeRedis.connect();
	try {
		const ioredis = connections.client('sessions');
		const throttled = new RedisSessionStore(ioredis, {env: 'bench', idleTtlMs: IDLE_TTL_S * 1000});
		const everyRead = new RedisSessionStore(ioredis, {env: 'bench', idleTtlMs: IDLE_TTL_S * 1000, touchAfterMs: 0});
		const connectRedis = new RedisStore({client: nodeRedis, prefix: 'sess:', ttl: IDLE_TTL_S});

		process.stderr.write(`bench: creating ${sessionCount} sessions in each store (Redis: ${redis.description})\n`);
		const tokens = [];
		const sids = [];
		for (let start = 0; start < sessionCount; start += 500) {
			const batch = Array.from({length: Math.min(500, sessionCount - start)}, (_, offset) => start + offset);
			tokens.push(...(await Promise.all(batch.map(async index => (await throttled.create(sessionData(index).userId, sessionData(index))).token))));
			sids.push(
				...(await Promise.all(
					batch.map(async index => {
						const sid = `bench-sid-${index}-${Math.random().toString(36).slice(2)}`;
						const expires = new Date(Date.now() + IDLE_TTL_S * 1000);
						await connectRedis.set(sid, {cookie: {originalMaxAge: IDLE_TTL_S * 1000, expires, httpOnly: true, path: '/'}, ...sessionData(index)});
						return sid;
					}),
				)),
			);
		}

		const order = readOrder(sessionCount);
		const variants = {
			msdbGet: {keys: tokens, operation: async token => check(await throttled.get(token))},
			msdbGetTouchEveryRead: {keys: tokens, operation: async token => check(await everyRead.get(token))},
			msdbGetThenTouch: {
				keys: tokens,
				operation: async token => {
					check(await throttled.get(token, {touch: false}));
					await throttled.touch(token);
				},
			},
			connectRedisGetTouch: {
				keys: sids,
				operation: async sid => {
					const session = check(await connectRedis.get(sid));
					await connectRedis.touch(sid, session);
				},
			},
		};
		const names = Object.keys(variants);
		const results = Object.fromEntries(names.map(name => [name, []]));
		for (let round = 0; round <= rounds; round++) {
			// Rotate who goes first, so neither side always runs on a warmer server.
			const rotated = names.map((_, index) => names[(index + round) % names.length]);
			const line = [];
			for (const name of rotated) {
				const outcome = await timedRound(variants[name].keys, order, variants[name].operation);
				line.push(`${name} ${Math.round(outcome.opsPerSecond)}`);
				if (round > 0) {
					results[name].push(outcome);
				}
			}

			process.stderr.write(`bench: ${round === 0 ? 'warm-up round' : `round ${round}/${rounds}`}: ${line.join(', ')} ops/s\n`);
		}

		const summary = Object.fromEntries(
			names.map(name => [
				name,
				{
					opsPerSecond: Math.round(median(results[name].map(result => result.opsPerSecond))),
					p50Ms: Number(median(results[name].map(result => result.p50)).toFixed(3)),
					p99Ms: Number(median(results[name].map(result => result.p99)).toFixed(3)),
				},
			]),
		);
		const ratio = (a, b) => summary[a].opsPerSecond / summary[b].opsPerSecond;
		const ratios = {
			msdbGetToConnectRedis: ratio('msdbGet', 'connectRedisGetTouch'),
			msdbGetTouchEveryReadToConnectRedis: ratio('msdbGetTouchEveryRead', 'connectRedisGetTouch'),
			msdbGetThenTouchToConnectRedis: ratio('msdbGetThenTouch', 'connectRedisGetTouch'),
			p99ConnectRedisToMsdbGet: summary.connectRedisGetTouch.p99Ms / summary.msdbGet.p99Ms,
		};

		console.log(`session get+touch, ${sessionCount} sessions, ${concurrency} callers, ${operations} ops × ${rounds} rounds (medians):`);
		for (const name of names) {
			const {opsPerSecond, p50Ms, p99Ms} = summary[name];
			console.log(`  ${name.padEnd(24)} ${String(opsPerSecond).padStart(8)} ops/s   p50 ${p50Ms.toFixed(3)} ms   p99 ${p99Ms.toFixed(3)} ms`);
		}

		const line = (label, value, goal) => `${label.padEnd(64)} ${value.toFixed(2)}×   (goal ${goal})`;
		console.log(line('msdb get (touch when under threshold) / connect-redis get+touch', ratios.msdbGetToConnectRedis, '≥ 1'));
		console.log(line('msdb get, touchAfterMs 0 (writes every read) / connect-redis', ratios.msdbGetTouchEveryReadToConnectRedis, 'reported'));
		console.log(line('msdb get + touch() (two calls) / connect-redis get+touch', ratios.msdbGetThenTouchToConnectRedis, 'reported'));
		console.log(line('p99 latency: connect-redis / msdb get', ratios.p99ConnectRedisToMsdbGet, 'reported'));
		await mkdir(work, {recursive: true});
		await writeFile(
			path.join(work, 'sessions-results.json'),
			`${JSON.stringify({sessions: sessionCount, concurrency, operations, rounds, summary, ratios, goals: {msdbGetToConnectRedis: '≥ 1'}}, null, 2)}\n`,
		);
	} finally {
		await nodeRedis.quit().catch(() => {});
		await connections.close();
		await redis.stop();
	}
}

/** Every read in the benchmark must find its session: a miss would make either side look faster. */
function check(session) {
	if (!session) {
		throw new Error('bench: a session was missing');
	}

	return session;
}

await main();
