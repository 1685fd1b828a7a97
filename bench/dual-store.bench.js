// Part of npm run bench: writes per second of agent state through the DualStoreCoordinator at
// each consistency level, against a plain PostgreSQL upsert and a plain Redis SET of the same
// JSON, on the same private servers, in this run.
//
// - strong / postgres-first: one statement (row + outbox row), then a Redis compare-and-set
//   (strong) or a tombstone (postgres-first);
// - redis-first / eventual: one Lua call (version-checked copy + write-behind XADD);
// - reference "pg upsert": INSERT … ON CONFLICT DO UPDATE SET version = version + 1 on
//   agents.state through the same pool (what a write without Redis costs);
// - reference "redis set": SET of the key to the JSON through the same connection (what a cache
//   write without PostgreSQL costs).
// Same for all: A agents (default 1000) created before timing, a pre-generated random order of
// which agent each write goes to, C writers in flight (default 16), M writes per round (default
// 5000), R rounds (default 3) after a warm-up round, variants in a rotating order per round.
// Between rounds the relays drain the outbox and the write-behind streams (not timed; their rate
// is reported apart), so every round starts with no backlog.
// Reported: the median over rounds of writes/s and of each round's p50 / p99, and ratios to both
// references.
//
// Environment: MSDB_BENCH_DATABASE_URL (a server where the user may CREATE DATABASE) else a
// private PostgreSQL from local binaries (tuned for tests: fsync and synchronous_commit off, which
// flatters every PostgreSQL write alike); MSDB_BENCH_REDIS_URL else a private redis-server (no
// persistence); MSDB_BENCH_AGENTS, MSDB_BENCH_CONCURRENCY, MSDB_BENCH_STATE_WRITES,
// MSDB_BENCH_ROUNDS. Results also go to bench/.work/dual-store-results.json.
import {mkdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import pg from 'pg';
import {applyFrameworkSchema, median} from './bench-kit.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = path.join(root, 'bench', '.work');
const agentCount = Number(process.env.MSDB_BENCH_AGENTS ?? 1000);
const concurrency = Number(process.env.MSDB_BENCH_CONCURRENCY ?? 16);
const writes = Number(process.env.MSDB_BENCH_STATE_WRITES ?? 5000);
const rounds = Number(process.env.MSDB_BENCH_ROUNDS ?? 3);
const ENV = 'bench';

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** What an agent typically keeps: a plan, a cursor, a scratchpad. About 300 bytes of JSON. */
const stateOf = (index, round) => ({
	step: index,
	round,
	plan: ['read the task', 'search the knowledge base', 'draft', 'review'],
	cursor: {document: `doc-${index % 97}`, offset: index * 13},
	scratch: `notes for step ${index}: ${'x'.repeat(120)}`,
});

/** A pre-generated random order: no random numbers drawn while timing. */
function writeOrder(count) {
	const order = new Uint32Array(writes);
	let seed = 0x2545f491;
	for (let index = 0; index < writes; index++) {
		seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
		order[index] = seed % count;
	}

	return order;
}

/** C writers share one counter; `operation` gets the agent's index and the state. */
async function timedRound(order, round, operation) {
	const latencies = new Float64Array(writes);
	let next = 0;
	const writer = async () => {
		for (;;) {
			const index = next++;
			if (index >= writes) {
				return;
			}

			const started = performance.now();
			await operation(order[index], stateOf(index, round));
			latencies[index] = performance.now() - started;
		}
	};

	const started = performance.now();
	await Promise.all(Array.from({length: concurrency}, writer));
	const elapsedMs = performance.now() - started;
	const sorted = latencies.sort();
	return {writesPerSecond: (writes / elapsedMs) * 1000, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99)};
}

async function main() {
	const [{provisionServices}, {DatabasePools}, {resolvePoolsConfig}, {RedisConnections}, {resolveRedisConfig}, dualStore] = await Promise.all([
		import('../build/core/provision/index.js'),
		import('../build/core/pools/database-pools.js'),
		import('../build/core/pools/pool-config.js'),
		import('../build/core/redis/redis-connections.js'),
		import('../build/core/redis/redis-config.js'),
		import('../build/core/dual-store/index.js'),
	]);
	const {DualStoreCoordinator, OutboxRelay, WriteBehindWriter, AGENT_STATE_REDIS_ROLE, agentStateKey} = dualStore;
	const services = await provisionServices({postgres: {url: process.env.MSDB_BENCH_DATABASE_URL}, redis: {url: process.env.MSDB_BENCH_REDIS_URL}, docker: false});
	const adminUrl = services.postgres.url;
	const admin = new pg.Client({connectionString: adminUrl});
	await admin.connect();
	const name = `msdb_bench_dual_store_${process.pid}`;
	await admin.query(`CREATE DATABASE ${name}`);
	const url = new URL(adminUrl);
	url.pathname = `/${name}`;
	const databaseUrl = url.toString();
	const pools = new DatabasePools(resolvePoolsConfig({databaseUrl}, {}));
	const connections = new RedisConnections(resolveRedisConfig({redisUrl: services.redis.url}, {}));
	try {
		await applyFrameworkSchema(databaseUrl);
		const {rows} = await pools.query(
			'primary',
			`INSERT INTO agents.agents (name, kind) SELECT 'bench-' || i, 'executor' FROM generate_series(1, $1::int) i RETURNING id::text AS id`,
			[agentCount * 2],
		);
		// The levels share one set of agents (the relays drain between variants, so each starts
		// with both stores in step); the plain upsert has its own, since it moves PostgreSQL's
		// versions past the Redis copies, which a redis-first write would then continue from.
		const agents = rows.slice(0, agentCount).map(row => row.id);
		const plainAgents = rows.slice(agentCount).map(row => row.id);
		const redis = connections.client(AGENT_STATE_REDIS_ROLE);
		await redis.ping();
		const coordinator = new DualStoreCoordinator({pools, redis, env: ENV});
		const relay = new OutboxRelay({redis, env: ENV});
		const writer = new WriteBehindWriter({redis, env: ENV});
		const drain = async () => {
			const started = performance.now();
			let moved = 0;
			for (;;) {
				const [outbox, log] = await pools.withClient('background', async client => [await relay.drain(client), await writer.drain(client)]);
				moved += outbox.relayed + log.persisted;
				if (outbox.relayed === 0 && outbox.rewarmed === 0 && log.persisted === 0) {
					return {moved, ms: performance.now() - started};
				}
			}
		};

		const plainKeys = agents.map(agent => agentStateKey(`${ENV}-plain`, agent));
		const pgUpsert = `INSERT INTO agents.state AS current (agent_id, state, version) VALUES ($1, $2::jsonb, 1)
			ON CONFLICT (agent_id) DO UPDATE SET state = EXCLUDED.state, version = current.version + 1, updated_at = now()`;
		const variants = {
			strong: async (index, state) => coordinator.write(agents[index], state, {level: 'strong'}),
			'postgres-first': async (index, state) => coordinator.write(agents[index], state, {level: 'postgres-first'}),
			'redis-first': async (index, state) => coordinator.write(agents[index], state, {level: 'redis-first'}),
			eventual: async (index, state) => coordinator.write(agents[index], state, {level: 'eventual'}),
			'pg upsert': async (index, state) => pools.query('primary', pgUpsert, [plainAgents[index], JSON.stringify(state)]),
			'redis set': async (index, state) => redis.set(plainKeys[index], JSON.stringify(state)),
		};
		const names = Object.keys(variants);
		const results = Object.fromEntries(names.map(variant => [variant, []]));
		const drains = [];
		const order = writeOrder(agents.length);
		process.stderr.write(`bench: ${agents.length} agents, ${concurrency} writers, ${writes} writes per round, ${rounds} rounds; PostgreSQL from ${services.postgres.source}, Redis from ${services.redis.source}\n`);
		for (let round = 0; round <= rounds; round++) {
			const rotated = names.map((_, index) => names[(index + round) % names.length]);
			for (const variant of rotated) {
				const result = await timedRound(order, round, variants[variant]);
				const drained = await drain();
				if (round > 0) {
					results[variant].push(result);
					if (drained.moved > 0) {
						drains.push({variant, perSecond: (drained.moved / drained.ms) * 1000});
					}
				}
			}
		}

		const summary = Object.fromEntries(
			names.map(variant => [
				variant,
				{
					writesPerSecond: median(results[variant].map(result => result.writesPerSecond)),
					p50Ms: median(results[variant].map(result => result.p50)),
					p99Ms: median(results[variant].map(result => result.p99)),
				},
			]),
		);
		const pgRate = summary['pg upsert'].writesPerSecond;
		const redisRate = summary['redis set'].writesPerSecond;
		console.log(`${'variant'.padEnd(16)}${'writes/s'.padStart(10)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'/ pg upsert'.padStart(13)}${'/ redis set'.padStart(13)}`);
		for (const variant of names) {
			const {writesPerSecond, p50Ms, p99Ms} = summary[variant];
			console.log(
				`${variant.padEnd(16)}${writesPerSecond.toFixed(0).padStart(10)}${p50Ms.toFixed(2).padStart(9)}${p99Ms.toFixed(2).padStart(9)}${`${(writesPerSecond / pgRate).toFixed(2)}×`.padStart(13)}${`${(writesPerSecond / redisRate).toFixed(2)}×`.padStart(13)}`,
			);
		}

		const relayRate = median(drains.filter(drain => drain.variant === 'strong' || drain.variant === 'postgres-first').map(drain => drain.perSecond));
		const writerRate = median(drains.filter(drain => drain.variant === 'redis-first' || drain.variant === 'eventual').map(drain => drain.perSecond));
		console.log(`relays (untimed between rounds): outbox relay ${relayRate.toFixed(0)} rows/s, write-behind writer ${writerRate.toFixed(0)} entries/s`);
		await mkdir(work, {recursive: true});
		await writeFile(path.join(work, 'dual-store-results.json'), `${JSON.stringify({agents: agents.length, concurrency, writes, rounds, summary, relayRate, writerRate}, null, '\t')}\n`);
	} finally {
		await connections.close();
		await pools.close();
		await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
		await admin.end();
		await services.stopAll();
	}
}

await main();
