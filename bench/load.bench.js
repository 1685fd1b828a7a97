// Part of npm run bench: what `msdb load` costs as a generator. Its PostgreSQL-only operations
// (task-enqueue, task-claim with complete, message-insert; equal weights) at its maximum rate
// (--rate 0: C operations always in flight) through the core (OpenLoopPacer, DatabasePools with
// its instrumentation, the meter), against a plain loop of the same statements with the same
// mix on a plain pg.Pool of the same size and C callers, in this run, on a private PostgreSQL.
// A ratio near 1 says the generator measures the server, not itself.
//
// Also reported, for information only: the default mix (cache, sessions, state writes) at its
// maximum rate, on a private redis-server.
//
// Environment: MSDB_BENCH_LOAD_SECONDS (per round, default 4), MSDB_BENCH_ROUNDS (default 3),
// MSDB_BENCH_CONCURRENCY (default 32). Rounds alternate the order of the two variants.
import {randomInt, randomUUID} from 'node:crypto';
import pg from 'pg';
import {LOAD_QUERIES} from '../build/core/load/load-operations.js';
import {runLoad} from '../build/core/load/run-load.js';
import {resolvePoolsConfig} from '../build/core/pools/pool-config.js';
import {startLocalPostgres, startLocalRedis} from '../build/core/provision/index.js';
import {resolveRedisConfig} from '../build/core/redis/redis-config.js';
import {applyFrameworkSchema, median} from './bench-kit.js';

const seconds = Number(process.env.MSDB_BENCH_LOAD_SECONDS ?? 4);
const rounds = Number(process.env.MSDB_BENCH_ROUNDS ?? 3);
const concurrency = Number(process.env.MSDB_BENCH_CONCURRENCY ?? 32);
const POOL_SIZE = 10;
const SQL_MIX = [
	{kind: 'task-enqueue', weight: 1, description: ''},
	{kind: 'task-claim', weight: 1, description: ''},
	{kind: 'message-insert', weight: 1, description: ''},
];

const postgres = await startLocalPostgres();
const redis = await startLocalRedis();
try {
	await applyFrameworkSchema(postgres.url);
	const options = mix => ({
		pools: resolvePoolsConfig({databaseUrl: postgres.url, overrides: {primary: {max: POOL_SIZE}}}, {}),
		redis: resolveRedisConfig({redisUrl: redis.url}, {}),
		env: {MSDB_ENV: 'bench'},
		ratePerSecond: 0,
		maxInFlight: concurrency,
		durationMs: seconds * 1000,
		heartbeatIntervalMs: 0,
		mix,
	});
	const seeded = await runLoad({...options(SQL_MIX), seedOnly: true});
	const reader = new pg.Client({connectionString: postgres.url});
	await reader.connect();
	const agentIds = (await reader.query("SELECT id FROM agents.agents WHERE name LIKE 'load-agent-%' ORDER BY name")).rows.map(row => row.id);
	await reader.end();
	console.log(`${seeded.seed.agents} agents; ${seconds} s per round, ${rounds} rounds, ${concurrency} in flight, pool of ${POOL_SIZE}`);

	const generator = async () => (await runLoad(options(SQL_MIX))).rate.achieved;
	const plain = async () => plainLoop(postgres.url, agentIds);
	const results = {generator: [], plain: []};
	for (let round = 0; round < rounds; round++) {
		const order = round % 2 === 0 ? ['generator', 'plain'] : ['plain', 'generator'];
		for (const name of order) {
			results[name].push(name === 'generator' ? await generator() : await plain());
		}
	}

	const generatorRate = median(results.generator);
	const plainRate = median(results.plain);
	console.log(`msdb load (SQL kinds, max rate): ${Math.round(generatorRate)} ops/s`);
	console.log(`plain pg loop, same statements:  ${Math.round(plainRate)} ops/s`);
	console.log(`ratio msdb load / plain: ${(generatorRate / plainRate).toFixed(2)}`);

	const full = await runLoad(options(undefined));
	console.log(
		`default mix at max rate (info): ${Math.round(full.rate.achieved)} ops/s, cache hit ratio ${((full.cache?.hitRatio ?? 0) * 100).toFixed(1)}%, ${full.totals.errors} errors`,
	);
} finally {
	await redis.stop();
	await postgres.stop();
}

/** C callers on a plain pg.Pool doing the same statements in the same proportions, for the same time. */
async function plainLoop(url, agentIds) {
	const pool = new pg.Pool({connectionString: url, max: POOL_SIZE});
	const conversations = agentIds.map(() => randomUUID());
	const deadline = performance.now() + seconds * 1000;
	let done = 0;
	const agent = () => randomInt(agentIds.length);
	const operations = [
		async () => pool.query(LOAD_QUERIES.enqueue, [randomInt(11), agentIds[agent()], {source: 'bench', n: randomInt(1_000_000)}]),
		async () => {
			const {rows} = await pool.query(LOAD_QUERIES.claim, [agentIds[agent()]]);
			if (rows[0]) {
				await pool.query(LOAD_QUERIES.complete, [rows[0].id, {ok: true}]);
			}
		},
		async () => {
			const index = agent();
			await pool.query(LOAD_QUERIES.message, [conversations[index], agentIds[index], `bench message ${done}`, {source: 'bench'}]);
		},
	];
	const started = performance.now();
	const caller = async () => {
		while (performance.now() < deadline) {
			await operations[randomInt(operations.length)]();
			done++;
		}
	};

	await Promise.all(Array.from({length: concurrency}, caller));
	const elapsed = performance.now() - started;
	await pool.end();
	return done / (elapsed / 1000);
}
