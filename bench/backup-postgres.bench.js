// Part of npm run bench: the PostgreSQL backup (build/core/backup/postgres) against pg_dump itself,
// measured in this same run on this same server, reported as ratios.
//
// 1. Speed: `pgbench -i -s 50` (5M account rows), then, round by round and alternating the order:
//    - reference: `pg_dump -Fc -f <file>` of that database, its own process;
//    - msdb: a node process that runs backupPostgres() into a directory target (pg_dump -Fc in an
//      exported snapshot, streamed through a Transform into the target, hashed on the way) — the
//      like-for-like comparison with `msdb backup create`: start-up, connection, snapshot and
//      version checks included. Also reported: the backupPostgres() call alone (timed inside that
//      process), and a run with exact row counts (counted in the snapshot while pg_dump runs).
//    Goal: msdb / pg_dump ≤ 1.1 (medians).
// 2. Memory: the peak RSS (process.resourceUsage().maxRSS) of that msdb process backing up
//    `-s 10` and `-s 50`. Goal: < 200 MB, and flat. "Flat" here means bounded, not equal: a small
//    dump ends before V8 has collected any of the buffers it streamed, so its peak is lower; past
//    some tens of MB the peak stops growing (measured while writing this: 103 → 106 MB after 42 →
//    168 MB dumped in one process). Checked: the -s 50 peak is under 1.5× the -s 10 peak.
//
// The target: the real DirectoryTarget (build/core/backup/targets) when it completes a small put
// within 5 s; otherwise a minimal one here (temp file, rename, sha256 on the way), and the line says
// which was used. Environment: MSDB_BENCH_DATABASE_URL (a server where the user may CREATE
// DATABASE) else a private PostgreSQL from local binaries with its data in /dev/shm (disk
// writeback of the other rounds' files made single runs vary); MSDB_BENCH_BACKUP_ROUNDS (default
// 7), MSDB_BENCH_BACKUP_SCALE (default 50).
import {Buffer} from 'node:buffer';
import {createHash, randomBytes} from 'node:crypto';
import {createWriteStream, existsSync} from 'node:fs';
import {mkdir, mkdtemp, rename, rm, stat, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {Readable, Transform} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {setTimeout as sleep} from 'node:timers/promises';
import {fileURLToPath} from 'node:url';
import {execa} from 'execa';
import pg from 'pg';
import {median} from './bench-kit.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = path.join(root, 'bench', '.work');
const self = fileURLToPath(import.meta.url);
const rounds = Number(process.env.MSDB_BENCH_BACKUP_ROUNDS ?? 7);
const scale = Number(process.env.MSDB_BENCH_BACKUP_SCALE ?? 50);
const smallScale = 10;

/** The fallback target: what a directory target must do at least (temp file, rename, hash). */
class MinimalDirectoryTarget {
	constructor(directory) {
		this.display = directory;
	}

	async put(key, body, options = {}) {
		const file = path.join(this.display, key);
		const temporary = `${file}.partial-${randomBytes(4).toString('hex')}`;
		await mkdir(path.dirname(file), {recursive: true});
		const hash = createHash('sha256');
		let bytes = 0;
		const tap = new Transform({
			transform(chunk, _encoding, callback) {
				hash.update(chunk);
				bytes += chunk.length;
				options.onProgress?.(bytes);
				callback(null, chunk);
			},
		});
		try {
			await pipeline(body, tap, createWriteStream(temporary), options.signal ? {signal: options.signal} : {});
			await rename(temporary, file);
		} catch (error) {
			body.destroy();
			await rm(temporary, {force: true});
			throw error;
		}

		return {key, bytes, sha256: hash.digest('hex')};
	}
}

/** Whether the real DirectoryTarget completes a small put within 5 s (decided once, by the parent). */
async function directoryTargetWorks(directory) {
	try {
		const {DirectoryTarget} = await import('../build/core/backup/targets/directory-target.js');
		const probe = new DirectoryTarget(directory).put('probe/probe.bin', Readable.from([Buffer.alloc(256 * 1024, 7)]));
		const timeout = new globalThis.AbortController();
		const stored = await Promise.race([probe.catch(() => undefined), sleep(5000, undefined, {signal: timeout.signal}).catch(() => undefined)]);
		timeout.abort();
		return stored?.bytes === 256 * 1024;
	} catch {
		return false;
	}
}

/** `node backup-postgres.bench.js --child <url> <directory> <key> <rowCounts> <directory|minimal>`: one backup, as msdb would run it. */
async function child([url, directory, key, rowCounts, kind]) {
	const started = performance.now();
	const {backupPostgres} = await import('../build/core/backup/postgres/index.js');
	const {resolveDatabaseConfig} = await import('../build/core/config/database-config.js');
	const target = kind === 'directory' ? new (await import('../build/core/backup/targets/directory-target.js')).DirectoryTarget(directory) : new MinimalDirectoryTarget(directory);
	const callStarted = performance.now();
	const part = await backupPostgres({database: resolveDatabaseConfig(url, {}), target, key, rowCounts: rowCounts === 'true'});
	const callMs = performance.now() - callStarted;
	process.stdout.write(JSON.stringify({bytes: part.artifact.bytes, callMs, totalMs: performance.now() - started, maxRssBytes: process.resourceUsage().maxRSS * 1024}));
}

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
		const targetKind = (await directoryTargetWorks(path.join(output, 'probe'))) ? 'directory' : 'minimal';
		const targetLabel = targetKind === 'directory' ? 'DirectoryTarget' : 'a minimal directory target (DirectoryTarget did not complete a put)';
		process.stderr.write(`bench: pgbench -s ${smallScale} and -s ${scale} ready, PostgreSQL from ${services.postgres.source}, ${rounds} rounds, target: ${targetLabel}, ${pgDump.path} ${pgDump.version}\n`);
		const runChild = async (url, key, rowCounts) => {
			const {stdout} = await execa(process.execPath, [self, '--child', url, output, key, String(rowCounts), targetKind], {env: process.env});
			return JSON.parse(stdout);
		};

		const times = {pgDump: [], msdb: [], msdbCall: [], msdbWithCounts: []};
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
					const {ms, result} = await timed(async () => runChild(databases[scale], `msdb-${round}/postgres.dump`, false));
					times.msdb.push(ms);
					times.msdbCall.push(result.callMs);
					rss[scale].push(result.maxRssBytes);
					sizes.msdb = result.bytes;
					await rm(path.join(output, `msdb-${round}`), {recursive: true, force: true});
				},
			];
			// Alternate who goes first, so warm caches favour neither.
			if (round % 2 === 0) {
				contenders.reverse();
			}

			for (const contender of contenders) {
				await contender();
			}

			const small = await runChild(databases[smallScale], `small-${round}/postgres.dump`, false);
			rss[smallScale].push(small.maxRssBytes);
			const counted = await runChild(databases[scale], `counted-${round}/postgres.dump`, true);
			times.msdbWithCounts.push(counted.totalMs);
			await rm(path.join(output, `small-${round}`), {recursive: true, force: true});
			await rm(path.join(output, `counted-${round}`), {recursive: true, force: true});
			process.stderr.write(`bench: round ${round}/${rounds} done\n`);
		}

		const mb = bytes => bytes / (1024 * 1024);
		const peakSmall = Math.max(...rss[smallScale]);
		const peakLarge = Math.max(...rss[scale]);
		const results = {
			scale,
			rounds,
			target: targetLabel,
			medianMs: Object.fromEntries(Object.entries(times).map(([key, values]) => [key, Math.round(median(values))])),
			roundsMs: Object.fromEntries(Object.entries(times).map(([key, values]) => [key, values.map(value => Math.round(value))])),
			dumpBytes: sizes,
			peakRssMb: {[`s${smallScale}`]: Math.round(mb(peakSmall)), [`s${scale}`]: Math.round(mb(peakLarge))},
			ratios: {
				msdbProcessToPgDump: median(times.msdb) / median(times.pgDump),
				// Fastest against fastest: what each costs when nothing else on the machine interferes.
				msdbProcessToPgDumpBest: Math.min(...times.msdb) / Math.min(...times.pgDump),
				msdbCallToPgDump: median(times.msdbCall) / median(times.pgDump),
				msdbWithCountsToPgDump: median(times.msdbWithCounts) / median(times.pgDump),
				peakRssLargeToSmall: peakLarge / peakSmall,
			},
			goals: {msdbProcessToPgDump: '≤ 1.1', peakRssMb: '< 200, flat'},
		};
		const line = (label, value, goal) => `${label.padEnd(70)} ${value}   (goal ${goal})`;
		console.log(`PostgreSQL backup of pgbench -s ${scale} (${mb(sizes.pgDump).toFixed(0)} MB dump), median of ${rounds}; target: ${targetLabel}`);
		console.log(line('msdb backup (whole node process) / pg_dump -Fc -f file', `${results.ratios.msdbProcessToPgDump.toFixed(2)}×`, '≤ 1.1'));
		console.log(line('  the same, fastest round of each', `${results.ratios.msdbProcessToPgDumpBest.toFixed(2)}×`, 'reported'));
		console.log(line('backupPostgres() call alone / pg_dump -Fc -f file', `${results.ratios.msdbCallToPgDump.toFixed(2)}×`, 'reported'));
		console.log(line('msdb backup with exact row counts (whole process) / pg_dump', `${results.ratios.msdbWithCountsToPgDump.toFixed(2)}×`, 'reported'));
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

if (process.argv[2] === '--child') {
	await child(process.argv.slice(3));
} else {
	await main();
}
