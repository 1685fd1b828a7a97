// Part of npm run bench: `msdb backup create` of PostgreSQL against pg_dump itself, measured in
// this same run on this same server, reported as ratios.
//
// 1. Speed: `pgbench -i -s 50` (5M account rows), then, round by round and alternating the order:
//    - reference: `pg_dump -Fc -f <file>` of that database, its own process;
//    - msdb: `msdb backup create --only postgres --skip-row-counts --target <dir> --json`, the
//      bundled executable a script runs (build/bundle/msdb.js): start-up, connection, snapshot
//      and version checks, pg_dump streamed through a hash into the directory target, and the
//      manifest, all included.
//    Goal: msdb / pg_dump ≤ 1.1 (medians). Also reported: the same with exact row counts (the
//    default; counted in the dump's snapshot while pg_dump runs).
// 2. Memory: the peak RSS of that msdb command (process.resourceUsage().maxRSS, reported at exit
//    by bench/report-peak-rss.js loaded with --import, in runs of their own that are not timed)
//    backing up `-s 10` and `-s 50`. Goal:
//    < 200 MB, and flat. "Flat" here means bounded, not equal: a small dump ends before V8 has
//    collected any of the buffers it streamed, so its peak is lower; past some tens of MB the peak
//    stops growing. Checked: the -s 50 peak is under 1.5× the -s 10 peak.
//
// Environment: MSDB_BENCH_DATABASE_URL (a server where the user may CREATE DATABASE) else a
// private PostgreSQL from local binaries with its data in /dev/shm (disk writeback of the other
// rounds' files made single runs vary); MSDB_BENCH_BACKUP_ROUNDS (default 7),
// MSDB_BENCH_BACKUP_SCALE (default 50).
import {existsSync} from 'node:fs';
import {mkdir, mkdtemp, rm, stat, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {execa} from 'execa';
import pg from 'pg';
import {median} from './bench-kit.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = path.join(root, 'bench', '.work');
const cli = path.join(root, 'build', 'bundle', 'msdb.js');
const reportPeakRss = path.join(root, 'bench', 'report-peak-rss.js');
const rounds = Number(process.env.MSDB_BENCH_BACKUP_ROUNDS ?? 7);
const scale = Number(process.env.MSDB_BENCH_BACKUP_SCALE ?? 50);
const smallScale = 10;

async function timed(work) {
	const started = performance.now();
	const result = await work();
	return {ms: performance.now() - started, result};
}

async function main() {
	if (!process.env.MSDB_BENCH_DATABASE_URL && existsSync('/dev/shm')) {
		process.env.TMPDIR = '/dev/shm';
	}

	const {provisionServices} = await import('../build/core/provision/index.js');
	const {libpqEnvironment, selectPgTool} = await import('../build/core/backup/postgres/index.js');
	const {resolveDatabaseConfig} = await import('../build/core/config/database-config.js');
	const services = await provisionServices({postgres: {url: process.env.MSDB_BENCH_DATABASE_URL}, docker: false});
	const adminUrl = services.postgres.url;
	const admin = new pg.Client({connectionString: adminUrl});
	await admin.connect();
	const created = [];
	const output = await mkdtemp(path.join(process.env.TMPDIR ?? tmpdir(), 'msdb-bench-backup-'));
	const urlOf = name => {
		const url = new URL(adminUrl);
		url.pathname = `/${name}`;
		return url.toString();
	};

	const envOf = url => libpqEnvironment(resolveDatabaseConfig(url, {}), {applicationName: 'msdb:bench'});
	try {
		const databases = {};
		for (const size of [smallScale, scale]) {
			const name = `msdb_bench_backup_s${size}_${process.pid}`;
			await admin.query(`CREATE DATABASE ${name}`);
			created.push(name);
			// Server-side generation: the load is not what is measured.
			await execa('pgbench', ['-i', '-s', String(size), '-q', '--init-steps=dtGvp'], {env: envOf(urlOf(name)), extendEnv: false});
			databases[size] = urlOf(name);
		}

		// The reference runs the very pg_dump msdb picks (on Debian the real binary, not the Perl
		// pg_wrapper on PATH, which adds its own start-up to every call).
		const pgDump = await selectPgTool('pg_dump', {preferMajor: Math.floor(Number((await admin.query('SHOW server_version_num')).rows[0].server_version_num) / 10_000)});
		process.stderr.write(`bench: pgbench -s ${smallScale} and -s ${scale} ready, PostgreSQL from ${services.postgres.source}, ${rounds} rounds, ${pgDump.path} ${pgDump.version}\n`);
		// One `msdb backup create` into its own directory; the backup is removed afterwards. Timed
		// runs start the executable exactly as a script does; the runs that report peak RSS load
		// report-peak-rss.js with --import, which costs a few ms of start-up, so they are not timed.
		const runMsdb = async (url, rowCounts, {reportRss = false} = {}) => {
			const target = path.join(output, `msdb-${process.hrtime.bigint()}`);
			const args = [...(reportRss ? ['--import', reportPeakRss] : []), cli, 'backup', 'create', '--only', 'postgres', '--target', target, '--json', ...(rowCounts ? [] : ['--skip-row-counts'])];
			// Timed like the reference: the process alone, not the reading of its output or the clean-up.
			const {ms, result: {stdout, stderr}} = await timed(async () => execa(process.execPath, args, {env: {...process.env, DATABASE_URL: url}}));
			const manifest = JSON.parse(stdout);
			const peak = /bench-peak-rss-bytes: (\d+)/.exec(stderr);
			await rm(target, {recursive: true, force: true});
			return {ms, bytes: manifest.postgres.artifact.bytes, maxRssBytes: Number(peak?.[1] ?? Number.NaN)};
		};

		const times = {pgDump: [], msdb: [], msdbWithCounts: []};
		const sizes = {pgDump: 0, msdb: 0};
		const rss = {[smallScale]: [], [scale]: []};
		for (let round = 1; round <= rounds; round++) {
			const contenders = [
				async () => {
					const file = path.join(output, `reference-${round}.dump`);
					const {ms} = await timed(async () => execa(pgDump.path, ['-Fc', '-f', file], {env: envOf(databases[scale]), extendEnv: false}));
					times.pgDump.push(ms);
					sizes.pgDump = (await stat(file)).size;
					await rm(file);
				},
				async () => {
					const result = await runMsdb(databases[scale], false);
					times.msdb.push(result.ms);
					sizes.msdb = result.bytes;
				},
			];
			// Alternate who goes first, so warm caches favour neither.
			if (round % 2 === 0) {
				contenders.reverse();
			}

			for (const contender of contenders) {
				await contender();
			}

			rss[smallScale].push((await runMsdb(databases[smallScale], false, {reportRss: true})).maxRssBytes);
			rss[scale].push((await runMsdb(databases[scale], false, {reportRss: true})).maxRssBytes);
			times.msdbWithCounts.push((await runMsdb(databases[scale], true)).ms);
			process.stderr.write(`bench: round ${round}/${rounds} done\n`);
		}

		const mb = bytes => bytes / (1024 * 1024);
		const peakSmall = Math.max(...rss[smallScale]);
		const peakLarge = Math.max(...rss[scale]);
		const results = {
			scale,
			rounds,
			medianMs: Object.fromEntries(Object.entries(times).map(([key, values]) => [key, Math.round(median(values))])),
			roundsMs: Object.fromEntries(Object.entries(times).map(([key, values]) => [key, values.map(value => Math.round(value))])),
			dumpBytes: sizes,
			peakRssMb: {[`s${smallScale}`]: Math.round(mb(peakSmall)), [`s${scale}`]: Math.round(mb(peakLarge))},
			ratios: {
				msdbProcessToPgDump: median(times.msdb) / median(times.pgDump),
				// Fastest against fastest: what each costs when nothing else on the machine interferes.
				msdbProcessToPgDumpBest: Math.min(...times.msdb) / Math.min(...times.pgDump),
				msdbWithCountsToPgDump: median(times.msdbWithCounts) / median(times.pgDump),
				peakRssLargeToSmall: peakLarge / peakSmall,
			},
			goals: {msdbProcessToPgDump: '≤ 1.1', peakRssMb: '< 200, flat'},
		};
		const line = (label, value, goal) => `${label.padEnd(70)} ${value}   (goal ${goal})`;
		console.log(`PostgreSQL backup of pgbench -s ${scale} (${mb(sizes.pgDump).toFixed(0)} MB dump), median of ${rounds}; target: a directory`);
		console.log(line('msdb backup create --only postgres --skip-row-counts / pg_dump -Fc -f file', `${results.ratios.msdbProcessToPgDump.toFixed(2)}×`, '≤ 1.1'));
		console.log(line('  the same, fastest round of each', `${results.ratios.msdbProcessToPgDumpBest.toFixed(2)}×`, 'reported'));
		console.log(line('msdb backup create --only postgres (exact row counts, the default) / pg_dump', `${results.ratios.msdbWithCountsToPgDump.toFixed(2)}×`, 'reported'));
		console.log(line(`peak RSS of the msdb backup process, -s ${smallScale} → -s ${scale}`, `${mb(peakSmall).toFixed(0)} MB → ${mb(peakLarge).toFixed(0)} MB`, '< 200 MB, flat'));
		const flat = peakLarge < peakSmall * 1.5;
		if (!flat || mb(peakLarge) >= 200) {
			console.log('  memory goal NOT met');
		}

		await mkdir(work, {recursive: true});
		await writeFile(path.join(work, 'backup-postgres-results.json'), `${JSON.stringify(results, null, 2)}\n`);
	} finally {
		for (const name of created) {
			await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
		}

		await admin.end();
		await rm(output, {recursive: true, force: true});
		await services.stopAll();
	}
}

await main();
