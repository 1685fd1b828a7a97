// Part of npm run bench: the console's own cost on the servers it watches and on the machine it
// runs on. The console (build/ui/console: the DashboardModel and the Ink ConsoleApp rendering
// every snapshot into an in-memory terminal of 100×40) runs for 60 s at the default refresh (2 s)
// against a private PostgreSQL database with the framework's migrations applied, a private
// Redis holding one framework heartbeat, and an empty directory backup target.
//
// Reported:
// - requests per interval and per second, from the model's own counters (ConsoleLoad): PostgreSQL
//   sampler polls (one round trip of a few statements), Redis commands (INFO), fleet commands
//   (one script call, one MGET), migration checks (every 30 s) and backup listings (every 60 s);
// - cross-check: the increase of pg_stat_database.xact_commit of the console's database over the
//   run, read after the console closed its sessions (a backend flushes its counters when it
//   exits). It must be the sampler's polls (one transaction each) plus the migration checks'
//   statements: nothing else connects to that database.
// - CPU: process.cpuUsage() over the run (model, rendering, everything in this process) as a
//   share of one core. Goal: < 5%.
//
// Environment: MSDB_BENCH_CONSOLE_SECONDS (default 60), MSDB_BENCH_DATABASE_URL (a server where
// the user may CREATE DATABASE) else a private PostgreSQL from local binaries, MSDB_BENCH_REDIS_URL
// (an existing server; one heartbeat key is written to it) else a private redis-server.
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {setTimeout as delay} from 'node:timers/promises';
import {fileURLToPath} from 'node:url';
import {Redis} from 'ioredis';
import pg from 'pg';
import {applyFrameworkSchema} from './bench-kit.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = path.join(root, 'bench', '.work');
const seconds = Number(process.env.MSDB_BENCH_CONSOLE_SECONDS ?? 60);
const ENV = 'bench';
const sleep = ms => delay(ms);

/** A framework heartbeat (format 1) that lives through the run: the fleet read then sends its MGET. */
async function publishHeartbeat(url, ttlMs) {
	const {FleetKeyspace} = await import('../build/core/fleet/fleet-keyspace.js');
	const keyspace = new FleetKeyspace(ENV);
	const now = new Date().toISOString();
	const instanceId = `bench:${process.pid}`;
	const snapshot = {
		format: 1,
		instanceId,
		service: 'agent-runtime',
		host: 'bench',
		pid: process.pid,
		version: '0.1.0',
		startedAt: now,
		publishedAt: now,
		intervalMs: 5000,
		pools: [{role: 'primary', max: 20, total: 5, idle: 3, waiting: 0, acquisitions: 100, acquireErrors: 0, acquireMsSum: 12, queries: 300, queryErrors: 1, queryMsSum: 90}],
		caches: [{namespace: 'agents', l1: {hits: 90, misses: 10, entries: 50, bytes: 5000}, l2: {hits: 6, misses: 4, unavailable: 0, breaker: 'closed'}, l3: {loads: 4, loadErrors: 0}}],
		redis: [],
	};
	const client = new Redis(url);
	try {
		await client.set(keyspace.instance(instanceId), JSON.stringify(snapshot), 'PX', ttlMs);
		await client.zadd(keyspace.indexKey, Date.now() + ttlMs, instanceId);
	} finally {
		client.disconnect();
	}
}

async function xactCommit(admin, name) {
	const {rows} = await admin.query('SELECT xact_commit::float8 AS commits FROM pg_stat_database WHERE datname = $1', [name]);
	return rows[0]?.commits ?? 0;
}

async function main() {
	const {provisionServices} = await import('../build/core/provision/index.js');
	const {resolveDatabaseConfig} = await import('../build/core/config/database-config.js');
	const {openDashboard} = await import('../build/core/console/open-dashboard.js');
	// As `msdb` runs the console (source/cli/run-cli.ts): React's production build.
	process.env.NODE_ENV ??= 'production';
	const [{render}, {default: React}, {ConsoleApp}] = await Promise.all([import('ink-testing-library'), import('react'), import('../build/ui/console/console-app.js')]);
	const services = await provisionServices({
		postgres: {url: process.env.MSDB_BENCH_DATABASE_URL},
		redis: {url: process.env.MSDB_BENCH_REDIS_URL},
		docker: false,
	});
	const adminUrl = services.postgres.url;
	const admin = new pg.Client({connectionString: adminUrl});
	await admin.connect();
	const name = `msdb_bench_console_${process.pid}`;
	const url = new URL(adminUrl);
	url.pathname = `/${name}`;
	const databaseUrl = url.toString();
	const backups = await mkdtemp(path.join(tmpdir(), 'msdb-bench-console-'));
	const migrationsDir = path.join(root, 'migrations');
	const rollbacksDir = path.join(root, 'rollbacks');
	await admin.query(`CREATE DATABASE ${name}`);
	try {
		await applyFrameworkSchema(databaseUrl);
		await publishHeartbeat(services.redis.url, (seconds + 30) * 1000);
		// Let the migration run's sessions flush their counters and go.
		await sleep(1500);
		process.stderr.write(`bench: console for ${seconds} s at the default refresh; PostgreSQL from ${services.postgres.source}, Redis from ${services.redis.source}\n`);

		const {model} = openDashboard({databaseUrl, redisUrl: services.redis.url, migrationsDir, rollbacksDir, backupTarget: backups, intervalMs: 2000, env: {MSDB_ENV: ENV, MSDB_ACTOR: 'bench'}});
		const commitsBefore = await xactCommit(admin, name);
		const cpuBefore = process.cpuUsage();
		const wallBefore = performance.now();
		model.start();
		let snapshots = 0;
		const view = render(
			React.createElement(ConsoleApp, {
				model,
				readonly: true,
				size: {columns: 100, rows: 40},
				flowContext: {database: resolveDatabaseConfig(databaseUrl, {}), redisUrl: services.redis.url, migrationsDir, rollbacksDir, backupTarget: backups, env: {}, readonly: true},
			}),
		);
		const unsubscribe = model.subscribe(() => {
			snapshots++;
		});
		await sleep(seconds * 1000);
		const load = model.load();
		const wallMs = performance.now() - wallBefore;
		const cpu = process.cpuUsage(cpuBefore);
		unsubscribe();
		view.unmount();
		await model.stop();
		const lastFrame = view.lastFrame() ?? '';
		// Closed sessions flush their statistics as they exit; give the server a moment.
		await sleep(1500);
		const commits = (await xactCommit(admin, name)) - commitsBefore;

		const intervals = wallMs / 2000;
		const perSecond = value => value / (wallMs / 1000);
		const cpuShare = (cpu.user + cpu.system) / 1000 / wallMs;
		const results = {
			seconds: Math.round(wallMs / 1000),
			load,
			perInterval: {
				postgresRoundTrips: load.postgresPolls / intervals,
				postgresStatements: load.postgresStatements / intervals,
				redisCommands: load.redisCommands / intervals,
				fleetCommands: load.fleetCommands / intervals,
			},
			perSecond: {
				requests: perSecond(load.postgresPolls + load.redisCommands + load.fleetCommands),
				postgresStatements: perSecond(load.postgresStatements),
				postgresTransactions: perSecond(commits),
			},
			postgresTransactions: {total: commits, samplerPolls: load.postgresPolls, migrationChecks: load.migrationChecks, otherThanSampler: commits - load.postgresPolls},
			snapshots,
			frames: view.frames.length,
			cpu: {userMs: cpu.user / 1000, systemMs: cpu.system / 1000, shareOfOneCore: cpuShare},
			goals: {cpuShareOfOneCore: '< 5%'},
		};
		const line = (label, value, goal = 'reported') => `${label.padEnd(74)} ${value}   (goal ${goal})`;
		const fixed = value => value.toFixed(2);
		console.log(`The console's own cost over ${results.seconds} s at the default 2 s refresh (model + Ink rendering: ${snapshots} snapshots, ${view.frames.length} frames)`);
		console.log(line('per interval: PostgreSQL round trips (statements)', `${fixed(results.perInterval.postgresRoundTrips)} (${fixed(results.perInterval.postgresStatements)})`, '1, fixed'));
		console.log(line('per interval: Redis commands (INFO) + fleet commands (script, MGET)', `${fixed(results.perInterval.redisCommands)} + ${fixed(results.perInterval.fleetCommands)}`, '1 + 2, fixed'));
		console.log(line(`migration checks / backup listings in ${results.seconds} s (every 30 s / 60 s)`, `${load.migrationChecks} / ${load.backupListings}`));
		console.log(line('requests/s to the servers (PostgreSQL round trips + Redis commands)', fixed(results.perSecond.requests)));
		console.log(
			line(
				"PostgreSQL transactions/s on the console's database (pg_stat_database)",
				`${fixed(results.perSecond.postgresTransactions)} (${commits}: ${load.postgresPolls} sampler polls + ${commits - load.postgresPolls} in ${load.migrationChecks} migration checks)`,
			),
		);
		console.log(line('CPU, share of one core', `${(cpuShare * 100).toFixed(2)}%`, '< 5%'));
		if (cpuShare >= 0.05) {
			console.log('  CPU goal NOT met');
		}

		if (!lastFrame.includes('1 PostgreSQL') || !lastFrame.includes('agents')) {
			console.log('  the console did not render its panels:');
			console.log(lastFrame);
			process.exitCode = 1;
		}

		await mkdir(work, {recursive: true});
		await writeFile(path.join(work, 'console-results.json'), `${JSON.stringify(results, null, 2)}\n`);
	} finally {
		await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
		await admin.end();
		await rm(backups, {recursive: true, force: true});
		await services.stopAll();
	}
}

await main();
