// Part of npm run bench: speed of `msdb migrate apply` and of msdb's start-up, reported as ratios to
// references measured in this same script on this same server (never as absolute timings).
//
// 1. Apply N tiny migrations (default 400) on a fresh database, median of R rounds (default 3):
//    - reference loop (bench/reference-loop.js): one pg client; per file: read, hash, BEGIN;
//      file; ledger INSERT; COMMIT — as its own node process (the like-for-like comparison
//      with the whole msdb process), and in this process (no start-up at all)
//    - msdb: the whole `msdb migrate apply --json` process
//    - msdb --single-transaction (every file in one transaction)
//    - node-pg-migrate 9 on the same files: its default (one transaction for all) and per file
// 2. Start-up: `msdb migrate status --json` against `node -e 0`, median of 15 runs each.
//
// Environment: MSDB_BENCH_DATABASE_URL (a server where the user may CREATE DATABASE) to use an
// existing server; else a private PostgreSQL is started from local binaries, with its data in
// /dev/shm when there is one: on disk, background writeback of earlier rounds' databases made
// single runs vary by 3× and drowned the differences being measured.
import {execFile} from 'node:child_process';
import {existsSync} from 'node:fs';
import {mkdir, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';
import pg from 'pg';
import {provisionServices} from '../build/core/provision/index.js';
import {referenceLoop} from './reference-loop.js';
import {median, timed} from './bench-kit.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const work = path.join(root, 'bench', '.work');
const cli = path.join(root, 'build', 'bundle', 'msdb.js');
const referenceScript = path.join(root, 'bench', 'reference-loop.js');
const nodePgMigrate = path.join(root, 'node_modules', 'node-pg-migrate', 'bin', 'node-pg-migrate.js');
const count = Number(process.env.MSDB_BENCH_MIGRATIONS ?? 400);
const rounds = Number(process.env.MSDB_BENCH_ROUNDS ?? 3);
const startupRuns = 15;

async function writeMigrations(dir, count) {
	await rm(dir, {recursive: true, force: true});
	await mkdir(path.join(dir, 'migrations'), {recursive: true});
	await mkdir(path.join(dir, 'rollbacks'), {recursive: true});
	const width = String(count).length + 1;
	for (let version = 1; version <= count; version++) {
		const name = `${String(version).padStart(width, '0')}_table_${version}.sql`;
		await writeFile(path.join(dir, 'migrations', name), `CREATE TABLE bench_${version} (id int PRIMARY KEY, note text);\n`);
		await writeFile(path.join(dir, 'rollbacks', name), `DROP TABLE bench_${version};\n`);
	}
}

async function main() {
	if (!process.env.MSDB_BENCH_DATABASE_URL && existsSync('/dev/shm')) {
		process.env.TMPDIR = '/dev/shm';
	}

	const services = await provisionServices({postgres: {url: process.env.MSDB_BENCH_DATABASE_URL}, docker: false});
	const adminUrl = services.postgres.url;
	const admin = new pg.Client({connectionString: adminUrl});
	await admin.connect();
	let databaseNumber = 0;
	const freshDatabase = async label => {
		const name = `msdb_bench_${label}_${process.pid}_${databaseNumber++}`;
		await admin.query(`CREATE DATABASE ${name}`);
		const url = new URL(adminUrl);
		url.pathname = `/${name}`;
		return {name, url: url.toString()};
	};

	const created = [];
	try {
		const project = path.join(work, 'project');
		await writeMigrations(project, count);
		const smallProject = path.join(work, 'small-project');
		await writeMigrations(smallProject, 5);
		const migrationsDir = path.join(project, 'migrations');
		const times = {reference: [], referenceInProcess: [], msdb: [], msdbSingleTransaction: [], nodePgMigrate: [], nodePgMigratePerFile: []};
		process.stderr.write(`bench: ${count} migrations, ${rounds} rounds, PostgreSQL from ${services.postgres.source}\n`);
		for (let round = 1; round <= rounds; round++) {
			const reference = await freshDatabase('reference');
			created.push(reference.name);
			times.reference.push(await timed(async () => run(process.execPath, [referenceScript, reference.url, migrationsDir])));
			const inProcess = await freshDatabase('reference');
			created.push(inProcess.name);
			times.referenceInProcess.push(await timed(async () => referenceLoop(inProcess.url, migrationsDir)));

			for (const [key, extra] of [
				['msdb', []],
				['msdbSingleTransaction', ['--single-transaction']],
			]) {
				const msdb = await freshDatabase('msdb');
				created.push(msdb.name);
				times[key].push(
					await timed(async () => {
						const {stdout} = await run(process.execPath, [cli, 'migrate', 'apply', '--json', ...extra], {cwd: project, env: {...process.env, DATABASE_URL: msdb.url}, maxBuffer: 64 << 20});
						const applied = JSON.parse(stdout).applied.length;
						if (applied !== count) {
							throw new Error(`msdb applied ${applied} of ${count}`);
						}
					}),
				);
			}

			for (const [key, extra] of [
				['nodePgMigrate', []],
				['nodePgMigratePerFile', ['--no-single-transaction']],
			]) {
				const database = await freshDatabase('npm');
				created.push(database.name);
				times[key].push(
					await timed(async () =>
						run(process.execPath, [nodePgMigrate, 'up', '-m', migrationsDir, ...extra], {cwd: project, env: {...process.env, DATABASE_URL: database.url}, maxBuffer: 64 << 20}),
					),
				);
			}

			process.stderr.write(`bench: round ${round}/${rounds} done\n`);
		}

		// Start-up: `status --json` on a small project (what start-up costs), and on the big one
		// (what reading 400 files and ledger rows adds), both fully applied.
		const statusTimes = {small: [], large: []};
		const nodeTimes = [];
		const statusProjects = {};
		for (const [key, dir] of [['small', smallProject], ['large', project]]) {
			const database = await freshDatabase(`status_${key}`);
			created.push(database.name);
			await run(process.execPath, [cli, 'migrate', 'apply'], {cwd: dir, env: {...process.env, DATABASE_URL: database.url}, maxBuffer: 64 << 20});
			statusProjects[key] = {dir, url: database.url};
		}

		for (let index = 0; index < startupRuns; index++) {
			nodeTimes.push(await timed(async () => run(process.execPath, ['-e', '0'])));
			for (const [key, {dir, url}] of Object.entries(statusProjects)) {
				statusTimes[key].push(await timed(async () => run(process.execPath, [cli, 'migrate', 'status', '--json'], {cwd: dir, env: {...process.env, DATABASE_URL: url}, maxBuffer: 64 << 20})));
			}
		}

		const reference = median(times.reference);
		const results = {
			migrations: count,
			rounds,
			medianMs: Object.fromEntries(Object.entries(times).map(([key, values]) => [key, Math.round(median(values))])),
			ratios: {
				msdbToReference: median(times.msdb) / reference,
				msdbToReferenceInProcess: median(times.msdb) / median(times.referenceInProcess),
				msdbToNodePgMigratePerFile: median(times.msdb) / median(times.nodePgMigratePerFile),
				msdbSingleTransactionToNodePgMigrate: median(times.msdbSingleTransaction) / median(times.nodePgMigrate),
				msdbToNodePgMigrate: median(times.msdb) / median(times.nodePgMigrate),
				statusStartupToNodeE0: median(statusTimes.small) / median(nodeTimes),
				status400MigrationsToNodeE0: median(statusTimes.large) / median(nodeTimes),
			},
			goals: {msdbToReference: '≤ 1.2', msdbToNodePgMigratePerFile: '< 1', msdbSingleTransactionToNodePgMigrate: '< 1', statusStartupToNodeE0: '≤ 4'},
		};
		const line = (label, ratio, goal) => `${label.padEnd(64)} ${ratio.toFixed(2)}×   (goal ${goal})`;
		console.log(`apply ${count} tiny migrations, median of ${rounds} (whole msdb process vs in-process loops):`);
		console.log(line('msdb migrate apply / reference loop (its own process)', results.ratios.msdbToReference, '≤ 1.2'));
		console.log(line('msdb migrate apply / reference loop (in this process)', results.ratios.msdbToReferenceInProcess, 'reported'));
		console.log(line('msdb apply / node-pg-migrate, a transaction per file (both)', results.ratios.msdbToNodePgMigratePerFile, '< 1'));
		console.log(line('msdb apply --single-transaction / node-pg-migrate (its default)', results.ratios.msdbSingleTransactionToNodePgMigrate, '< 1'));
		console.log(line('msdb apply (per file) / node-pg-migrate (one transaction)', results.ratios.msdbToNodePgMigrate, 'reported'));
		console.log(line('msdb migrate status --json start-up (5 migrations) / node -e 0', results.ratios.statusStartupToNodeE0, '≤ 4'));
		console.log(line(`msdb migrate status --json with ${count} migrations / node -e 0`, results.ratios.status400MigrationsToNodeE0, 'reported'));
		await mkdir(work, {recursive: true});
		await writeFile(path.join(work, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
	} finally {
		for (const name of created) {
			await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
		}

		await admin.end();
		await services.stopAll();
	}
}

await main();
