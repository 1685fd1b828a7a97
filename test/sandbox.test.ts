/**
 * `msdb sandbox up|down|status` as people and scripts run it: the built CLI in a temp working
 * directory, local binaries (MSDB_SANDBOX_DOCKER=0; the Docker compose path needs a Docker daemon,
 * which these machines do not have). The services outlive each command, so afterAll always runs
 * `down --purge`. Run `npm run build` first (`npm test` does).
 */
import {execFile} from 'node:child_process';
import {existsSync, readFileSync} from 'node:fs';
import {chmod, mkdtemp, rm} from 'node:fs/promises';
import net from 'node:net';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {promisify} from 'node:util';
import {GetObjectCommand, PutObjectCommand, S3Client} from '@aws-sdk/client-s3';
import {Redis} from 'ioredis';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {runMsdb, type MsdbRun} from './support/run-msdb.js';
import {query} from './support/sql.js';

const execFileAsync = promisify(execFile);

/** The variables `up` hands out, and only those (local binaries: no PGPASSWORD). */
const ENV_KEYS = ['DATABASE_URL', 'REDIS_URL', 'MSDB_BACKUP_TARGET', 'S3_ENDPOINT', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION'];
const SANDBOX_KEY = 'S3RVER';
const SERVICES = ['postgres', 'redis', 's3'] as const;

let cwd: string;

async function sandbox(...args: string[]): Promise<MsdbRun> {
	return runMsdb(['sandbox', ...args], {cwd, env: {MSDB_SANDBOX_DOCKER: '0'}});
}

/** Alive and not a zombie (PID 1 here does not always reap the daemons it inherits). */
function isRunning(pid: number): boolean {
	try {
		process.kill(pid, 0);
	} catch {
		return false;
	}

	try {
		return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
	} catch {
		return false;
	}
}

async function portAnswers(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const socket = net.connect({host: '127.0.0.1', port});
		socket.once('connect', () => {
			socket.destroy();
			resolve(true);
		});
		socket.once('error', () => resolve(false));
	});
}


async function withRedis<T>(url: string, work: (redis: Redis) => Promise<T>): Promise<T> {
	const redis = new Redis(url, {lazyConnect: true, maxRetriesPerRequest: 0});
	await redis.connect();
	try {
		return await work(redis);
	} finally {
		redis.disconnect();
	}
}

function s3Client(env: Record<string, string>): S3Client {
	return new S3Client({
		endpoint: env['S3_ENDPOINT'],
		region: env['AWS_REGION'],
		forcePathStyle: true,
		credentials: {accessKeyId: env['AWS_ACCESS_KEY_ID']!, secretAccessKey: env['AWS_SECRET_ACCESS_KEY']!},
	});
}

async function readObject(env: Record<string, string>, key: string): Promise<string> {
	const client = s3Client(env);
	try {
		const object = await client.send(new GetObjectCommand({Bucket: 'msdb-sandbox', Key: key}));
		return object.Body!.transformToString();
	} finally {
		client.destroy();
	}
}

describe('msdb sandbox (local binaries)', () => {
	let first: any;

	beforeAll(async () => {
		cwd = await mkdtemp(path.join(tmpdir(), 'msdb-sandbox-test-'));
		// mkdtemp makes it 0700; as root, PostgreSQL runs as the postgres OS user, which must get in
		// (as it must into a real project folder).
		await chmod(cwd, 0o755);
	});

	afterAll(async () => {
		// Whatever happened above: no server may outlive the test run.
		const down = await sandbox('down', '--purge', '--json');
		await rm(cwd, {recursive: true, force: true});
		expect(down.exitCode, down.stderr).toBe(0);
	});

	it('status before the first up: nothing here, exit 3', async () => {
		const run = await sandbox('status', '--json');
		expect(run.exitCode).toBe(3);
		expect(run.json).toMatchObject({backend: null, up: false, env: null, startedAt: null, directory: path.join(cwd, '.msdb', 'sandbox')});
		for (const service of SERVICES) {
			expect(run.json.services[service]).toMatchObject({state: 'down', url: null, pid: null, detail: 'never started here'});
		}
	});

	it('up starts all three, prints the environment, and every URL in it works', async () => {
		const run = await sandbox('up', '--json');
		expect(run.exitCode, run.stderr).toBe(0);
		first = run.json;
		expect(first).toMatchObject({backend: 'local', up: true, bucket: 'msdb-sandbox'});
		expect(first.started).toEqual(['postgres', 'redis', 's3']);
		expect(Object.keys(first.env)).toEqual(ENV_KEYS);
		expect(first.env).toMatchObject({MSDB_BACKUP_TARGET: 's3://msdb-sandbox/backups', AWS_ACCESS_KEY_ID: SANDBOX_KEY, AWS_SECRET_ACCESS_KEY: SANDBOX_KEY});
		expect(first.env.DATABASE_URL).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/msdb$/);
		for (const service of SERVICES) {
			const status = first.services[service];
			expect(status).toMatchObject({state: 'up', detail: 'answers'});
			expect(isRunning(status.pid)).toBe(true);
			expect(existsSync(status.dataDirectory)).toBe(true);
			expect(status.log).toMatch(/\.msdb\/sandbox\/logs\//);
		}

		// The sandbox keys are handed out in `env`, and nowhere else: not in progress, not elsewhere in the JSON.
		expect(run.stderr).toMatch(/postgres: starting PostgreSQL/);
		expect(run.stderr).not.toContain(SANDBOX_KEY);
		const {env: _env, ...rest} = first;
		expect(JSON.stringify(rest)).not.toContain(SANDBOX_KEY);

		const {env} = first;
		await query(env.DATABASE_URL, 'CREATE TABLE kept (value text); INSERT INTO kept VALUES ($$from the first run$$)');
		expect(await query(env.DATABASE_URL, 'SELECT current_database() AS name')).toEqual([{name: 'msdb'}]);
		await withRedis(env.REDIS_URL, async redis => {
			await redis.set('kept', 'from the first run');
			expect(await redis.get('kept')).toBe('from the first run');
		});
		const client = s3Client(env);
		try {
			await client.send(new PutObjectCommand({Bucket: 'msdb-sandbox', Key: 'kept.txt', Body: 'from the first run'}));
		} finally {
			client.destroy();
		}

		expect(await readObject(env, 'kept.txt')).toBe('from the first run');
	});

	it('a second up changes nothing, and its human output is shell that sets the environment', async () => {
		const run = await sandbox('up');
		expect(run.exitCode, run.stderr).toBe(0);
		expect(run.stdout).toContain('# already up: nothing to start');
		expect(run.stderr).toMatch(/postgres: already up/);
		// Every line is a comment or an export; the keys appear only in their own export lines.
		const lines = run.stdout.trim().split('\n');
		expect(lines.every(line => line.startsWith('# ') || line.startsWith('export '))).toBe(true);
		expect(lines.filter(line => line.includes(SANDBOX_KEY))).toEqual([`export AWS_ACCESS_KEY_ID='${SANDBOX_KEY}'`, `export AWS_SECRET_ACCESS_KEY='${SANDBOX_KEY}'`]);
		const {stdout} = await execFileAsync('sh', ['-c', 'eval "$SANDBOX"; echo "$DATABASE_URL $REDIS_URL $S3_ENDPOINT"'], {env: {...process.env, SANDBOX: run.stdout}});
		expect(stdout.trim()).toBe(`${first.env.DATABASE_URL} ${first.env.REDIS_URL} ${first.env.S3_ENDPOINT}`);

		const status = await sandbox('status', '--json');
		expect(status.exitCode).toBe(0);
		for (const service of SERVICES) {
			expect(status.json.services[service].pid).toBe(first.services[service].pid);
		}

		// A second run from a shell that exported the environment still prints the keys (they are not secrets).
		const again = await runMsdb(['sandbox', 'status'], {cwd, env: {...first.env, MSDB_SANDBOX_DOCKER: '0'}});
		expect(again.stdout).toContain(`export AWS_SECRET_ACCESS_KEY='${SANDBOX_KEY}'`);
	});

	it('a crashed service is reported down (exit 3) and the next up restarts only it, with its data', async () => {
		process.kill(first.services.redis.pid, 'SIGKILL');
		const status = await sandbox('status', '--json');
		expect(status.exitCode).toBe(3);
		expect(status.json.up).toBe(false);
		expect(status.json.services.redis).toMatchObject({state: 'down', pid: null, detail: 'not running'});
		expect(status.json.services.postgres.state).toBe('up');

		const human = await sandbox('status');
		expect(human.exitCode).toBe(3);
		expect(human.stdout).toContain('`msdb sandbox up` starts what is missing');
		expect(human.stdout).not.toContain('export ');

		const run = await sandbox('up', '--json');
		expect(run.exitCode, run.stderr).toBe(0);
		expect(run.json.started).toEqual(['redis']);
		expect(run.json.env).toEqual(first.env);
		// Redis writes the append-only file before it answers, so an acknowledged SET survives a SIGKILL.
		expect(await withRedis(run.json.env.REDIS_URL, async redis => redis.get('kept'))).toBe('from the first run');
		first = run.json;
	});

	it('down stops everything and keeps the data; the next up finds it on the same URLs', async () => {
		const run = await sandbox('down', '--json');
		expect(run.exitCode, run.stderr).toBe(0);
		expect(run.json).toMatchObject({stopped: ['postgres', 'redis', 's3'], purged: false, up: false, backend: 'local'});
		for (const service of SERVICES) {
			expect(isRunning(first.services[service].pid)).toBe(false);
			expect(await portAnswers(first.services[service].port)).toBe(false);
			expect(run.json.services[service]).toMatchObject({state: 'down', pid: null});
		}

		const status = await sandbox('status', '--json');
		expect(status.exitCode).toBe(3);
		expect(status.json.env).toEqual(first.env);

		const nothing = await sandbox('down');
		expect(nothing.exitCode).toBe(0);
		expect(nothing.stdout).toContain('# nothing was running');

		const up = await sandbox('up', '--json');
		expect(up.exitCode, up.stderr).toBe(0);
		expect(up.json.started).toEqual(['postgres', 'redis', 's3']);
		expect(up.json.env).toEqual(first.env);
		// No initdb the second time: the cluster was kept.
		expect(up.stderr).not.toMatch(/initdb/);
		const {env} = up.json;
		expect(await query(env.DATABASE_URL, 'SELECT value FROM kept')).toEqual([{value: 'from the first run'}]);
		expect(await withRedis(env.REDIS_URL, async redis => redis.get('kept'))).toBe('from the first run');
		expect(await readObject(env, 'kept.txt')).toBe('from the first run');
		first = up.json;
	});

	it('down --purge stops everything and deletes .msdb/sandbox', async () => {
		const run = await sandbox('down', '--purge');
		expect(run.exitCode, run.stderr).toBe(0);
		expect(run.stdout).toContain('# stopped postgres, redis, s3');
		expect(run.stdout).toContain(`# deleted ${path.join(cwd, '.msdb', 'sandbox')}`);
		expect(existsSync(path.join(cwd, '.msdb', 'sandbox'))).toBe(false);
		for (const service of SERVICES) {
			expect(isRunning(first.services[service].pid)).toBe(false);
		}

		const status = await sandbox('status', '--json');
		expect(status.exitCode).toBe(3);
		expect(status.json.backend).toBeNull();
	});
});
