// Part of npm run bench: the Redis half of backups, as ratios to redis-cli measured in this same
// script on this same private server (never as absolute timings):
//
// 1. RDB fetch: msdb's sync-mode backup (replication protocol → RDB parser for key counts and
//    CRC64 → sha256 → a directory target, fsynced) vs `redis-cli --rdb <file>` (which fsyncs too).
//    Goal ≤ 1.1×.
// 2. Restore of N keys (default 1,000,000): msdb's RESTORE … ABSTTL REPLACE replay of that
//    backup into an empty server vs `redis-cli --pipe` mass insertion of the same keys and values
//    (SET commands) into an empty server. Throughput ratio, goal ≥ 0.7×.
// Median of R rounds (default 5), the two sides alternating. Each msdb operation runs in a fresh
// child process of this script (timed inside it, like redis-cli's own run), so one round's heap
// does not colour the next and the child's peak RSS can be reported: memory must not grow with
// the data.
//
// Environment: MSDB_BENCH_REDIS_KEYS, MSDB_BENCH_ROUNDS. Needs redis-server and redis-cli on PATH.
// Files go to /dev/shm when there is one, so the disk's writeback does not drown the comparison.
import {Buffer} from 'node:buffer';
import {execFile, spawn} from 'node:child_process';
import {createReadStream, createWriteStream, existsSync} from 'node:fs';
import {once} from 'node:events';
import {mkdir, mkdtemp, rm, stat, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';
import {backupRedis, restoreRedis} from '../build/core/backup/redis/index.js';
import {DirectoryTarget} from '../build/core/backup/targets/directory-target.js';
import {startLocalRedis} from '../build/core/provision/index.js';
import {createRedisClient} from '../build/core/redis/create-redis-client.js';
import {parseRedisUrl} from '../build/core/redis/redis-config.js';
import {median, timed} from './bench-kit.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const work = path.join(root, 'bench', '.work');
const keyCount = Number(process.env.MSDB_BENCH_REDIS_KEYS ?? 1_000_000);
const rounds = Number(process.env.MSDB_BENCH_ROUNDS ?? 5);

/** The mass-insertion input: one SET per key, RESP-encoded, as redis-cli --pipe wants it. */
async function writePipeFile(file) {
	const out = createWriteStream(file);
	let batch = '';
	for (let index = 0; index < keyCount; index++) {
		const key = `bench:key:${index}`;
		// Values of a realistic size (40–80 bytes), some of them integers.
		const value = index % 10 === 0 ? String(index) : `value-${index}-${'x'.repeat(32 + (index % 40))}`;
		batch += `*3\r\n$3\r\nSET\r\n$${Buffer.byteLength(key)}\r\n${key}\r\n$${Buffer.byteLength(value)}\r\n${value}\r\n`;
		if (batch.length > 1 << 20) {
			if (!out.write(batch)) {
				await once(out, 'drain');
			}

			batch = '';
		}
	}

	out.end(batch);
	await once(out, 'finish');
}

async function massInsert(port, file) {
	await new Promise((resolve, reject) => {
		const child = spawn('redis-cli', ['-p', String(port), '--pipe'], {stdio: ['pipe', 'pipe', 'inherit']});
		let output = '';
		child.stdout.on('data', chunk => (output += chunk));
		child.on('error', reject);
		child.on('close', code => (code === 0 && /errors: 0, replies: \d+/.test(output) ? resolve() : reject(new Error(`redis-cli --pipe: ${output}`))));
		createReadStream(file).pipe(child.stdin);
	});
}

function client(url) {
	return createRedisClient(parseRedisUrl(url, 'default'), {commandTimeoutMs: 60_000}).client;
}

/** Child mode: one msdb operation, timed around the call; prints {ms, result, maxRssMb} as JSON. */
async function child(task) {
	const redis = client(task.url);
	try {
		await redis.ping();
		const target = new DirectoryTarget(task.root);
		const started = performance.now();
		const operations = {
			backup: async () => backupRedis({endpoint: parseRedisUrl(task.url, 'default'), client: redis, target, key: task.key, mode: 'sync'}),
			restore: async () => restoreRedis({target, part: task.part, client: redis}),
			// What a child costs before it does anything: the baseline for the RSS figures.
			idle: async () => null,
		};
		const result = await operations[task.operation]();
		const ms = performance.now() - started;
		process.stdout.write(JSON.stringify({ms, result, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024)}));
	} finally {
		redis.disconnect();
	}
}

async function inChild(task) {
	const {stdout} = await run(process.execPath, [fileURLToPath(import.meta.url), 'child', JSON.stringify(task)], {maxBuffer: 16 << 20});
	return JSON.parse(stdout);
}

async function main() {
	if (existsSync('/dev/shm')) {
		process.env.TMPDIR = '/dev/shm';
	}

	const scratch = await mkdtemp(path.join(tmpdir(), 'msdb-bench-redis-'));
	const [source, target] = [await startLocalRedis(), await startLocalRedis()];
	const sourceClient = client(source.url);
	const targetClient = client(target.url);
	try {
		process.stderr.write(`bench: ${keyCount} keys, ${rounds} rounds\n`);
		const pipeFile = path.join(scratch, 'mass-insert.resp');
		await writePipeFile(pipeFile);
		await massInsert(source.port, pipeFile);
		// Same conditions for both fetchers: no 5 s wait for more replicas before a diskless transfer.
		await sourceClient.config('SET', 'repl-diskless-sync-delay', '0');
		const root = path.join(scratch, 'backups');
		const backups = new DirectoryTarget(root);
		const times = {msdbFetch: [], redisCliRdb: [], msdbRestore: [], redisCliPipe: []};
		let rdbBytes = 0;
		const rssMb = {backup: 0, restore: 0, idle: (await inChild({operation: 'idle', url: source.url, root})).maxRssMb};
		for (let round = 1; round <= rounds; round++) {
			const cliFile = path.join(scratch, `cli-${round}.rdb`);
			times.redisCliRdb.push(await timed(async () => run('redis-cli', ['-p', String(source.port), '--rdb', cliFile])));
			rdbBytes = (await stat(cliFile)).size;
			await rm(cliFile);
			const key = `round-${round}/redis.rdb`;
			const backup = await inChild({operation: 'backup', url: source.url, root, key});
			times.msdbFetch.push(backup.ms);
			const part = backup.result;
			if (part.keysPerDatabase['0'] !== keyCount) {
				throw new Error(`the backup counted ${JSON.stringify(part.keysPerDatabase)} keys, expected ${keyCount}`);
			}

			await targetClient.flushall();
			times.redisCliPipe.push(await timed(async () => massInsert(target.port, pipeFile)));
			await targetClient.flushall();
			const restore = await inChild({operation: 'restore', url: target.url, root, part});
			if (restore.result.restored !== keyCount) {
				throw new Error(`restored ${restore.result.restored} of ${keyCount} keys`);
			}

			times.msdbRestore.push(restore.ms);
			rssMb.backup = Math.max(rssMb.backup, backup.maxRssMb);
			rssMb.restore = Math.max(rssMb.restore, restore.maxRssMb);
			await backups.deletePrefix(`round-${round}/`);
			process.stderr.write(`bench: round ${round}/${rounds} done\n`);
		}

		const medianMs = Object.fromEntries(Object.entries(times).map(([name, values]) => [name, Math.round(median(values))]));
		const results = {
			keys: keyCount,
			rdbBytes,
			rounds,
			medianMs,
			keysPerSecond: {
				msdbRestore: Math.round(keyCount / (median(times.msdbRestore) / 1000)),
				redisCliPipe: Math.round(keyCount / (median(times.redisCliPipe) / 1000)),
			},
			ratios: {
				fetchToRedisCliRdb: median(times.msdbFetch) / median(times.redisCliRdb),
				restoreThroughputToRedisCliPipe: median(times.redisCliPipe) / median(times.msdbRestore),
			},
			peakRssMb: rssMb,
			goals: {fetchToRedisCliRdb: '≤ 1.1', restoreThroughputToRedisCliPipe: '≥ 0.7'},
		};
		const line = (label, ratio, goal) => `${label.padEnd(72)} ${ratio.toFixed(2)}×   (goal ${goal})`;
		console.log(`Redis backup/restore, ${keyCount} keys (RDB ${(rdbBytes / 1024 / 1024).toFixed(1)} MB), median of ${rounds}:`);
		console.log(line('msdb sync backup (fetch + parse + CRC64 + sha256 + fsync) / redis-cli --rdb', results.ratios.fetchToRedisCliRdb, '≤ 1.1'));
		console.log(line('msdb restore throughput / redis-cli --pipe mass insertion (same keys)', results.ratios.restoreThroughputToRedisCliPipe, '≥ 0.7'));
		console.log(`  medians: ${Object.entries(medianMs).map(([name, ms]) => `${name} ${ms} ms`).join(', ')}`);
		console.log(`  keys/s: msdb restore ${results.keysPerSecond.msdbRestore}, redis-cli --pipe ${results.keysPerSecond.redisCliPipe}`);
		console.log(`  peak RSS of the msdb processes: backup ${rssMb.backup} MB, restore ${rssMb.restore} MB (an idle one: ${rssMb.idle} MB)`);
		await mkdir(work, {recursive: true});
		await writeFile(path.join(work, 'backup-redis-results.json'), `${JSON.stringify(results, null, 2)}\n`);
	} finally {
		sourceClient.disconnect();
		targetClient.disconnect();
		await Promise.all([source.stop(), target.stop()]);
		await rm(scratch, {recursive: true, force: true});
	}
}

if (process.argv[2] === 'child') {
	await child(JSON.parse(process.argv[3]));
} else {
	await main();
}
