/**
 * Backups end to end, through the built CLI as scripts and on-call engineers run it: real
 * PostgreSQL (pgbench + the agent schema), real Redis (every type), a real S3 server (s3rver)
 * and a directory.
 */
import {cp, mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {execa} from 'execa';
import type {Redis} from 'ioredis';
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest';
import {manifestChecksum} from '../source/core/backup/backup-manifest.js';
import {compareSnapshots, fillEveryType, snapshotKeyspace, startServer, type ServerUnderTest} from './backup-redis-fixtures.js';
import {applyAgentSchema, hashesOf, pgbenchInit, SCALE} from './support/postgres-fixtures.js';
import {startRestartableS3} from './support/restartable-s3.js';
import {CLI_PATH, runMsdb} from './support/run-msdb.js';
import {query} from './support/sql.js';
import {createTestDatabase, type TestDatabase} from './support/test-database.js';

const cleanups: Array<() => Promise<unknown>> = [];
let source: TestDatabase;
let sourceRedis: ServerUnderTest;
let directory: string;
let sourceHashes: Record<string, string>;
let sourceKeys: Awaited<ReturnType<typeof snapshotKeyspace>>;

function databaseUrl(name: string): string {
	const url = new URL(inject('postgresAdminUrl'));
	url.pathname = `/${name}`;
	return url.toString();
}

function s3Environment(): Record<string, string> {
	const s3 = inject('s3');
	return {S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region};
}

async function databaseNames(): Promise<string[]> {
	return (await query(inject('postgresAdminUrl'), 'SELECT datname FROM pg_database ORDER BY 1')).map(row => row.datname as string);
}

/** Copies backup `id` of the directory target to a new id, so a test can damage the copy. */
async function copyBackup(id: string, suffix: string): Promise<string> {
	const copy = `${id.slice(0, -6)}${suffix}`;
	await cp(path.join(directory, id), path.join(directory, copy), {recursive: true});
	const manifestPath = path.join(directory, copy, 'manifest.json');
	const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
	manifest.id = copy;
	for (const part of [manifest.postgres, manifest.redis]) {
		if (part) {
			part.artifact.key = part.artifact.key.replace(id, copy);
		}
	}

	await writeManifest(copy, manifest);
	return copy;
}

async function writeManifest(id: string, manifest: Record<string, unknown>, {seal = true} = {}): Promise<void> {
	const {manifestSha256: _old, ...rest} = manifest;
	const sealed = seal ? {...rest, manifestSha256: manifestChecksum(rest)} : manifest;
	await writeFile(path.join(directory, id, 'manifest.json'), JSON.stringify(sealed, null, 2));
}

beforeAll(async () => {
	source = await createTestDatabase('backup_cli');
	await pgbenchInit(source, SCALE);
	await applyAgentSchema(source);
	sourceHashes = await hashesOf(source.url);
	sourceRedis = await startServer();
	await fillEveryType(sourceRedis.client as Redis, {databases: [0, 2, 5]});
	sourceKeys = await snapshotKeyspace(sourceRedis.client);
	directory = await mkdtemp(path.join(tmpdir(), 'msdb-backups-'));
	cleanups.push(async () => source.drop(), async () => sourceRedis.stop(), async () => rm(directory, {recursive: true, force: true}));
}, 300_000);

afterAll(async () => {
	for (const cleanup of cleanups.reverse()) {
		await cleanup().catch(() => {});
	}
});

const backups: Record<'directory' | 's3', string> = {directory: '', s3: ''};

describe('backup create and restore, round trip', () => {
	it.each([
		['directory', () => ({MSDB_BACKUP_TARGET: directory})],
		['s3', () => ({MSDB_BACKUP_TARGET: `s3://${inject('s3').bucket}/round-trip`, ...s3Environment()})],
	] as const)('through %s: every table and every Redis key come back identical', async (kind, targetEnvironment) => {
		const env = {DATABASE_URL: source.url, REDIS_URL: sourceRedis.url, ...targetEnvironment()};
		const created = await runMsdb(['backup', 'create', '--json'], {cwd: directory, env});
		expect(created.exitCode, created.stderr).toBe(0);
		const manifest = created.json;
		backups[kind] = manifest.id;
		expect(manifest.components).toEqual(['postgres', 'redis']);
		expect(manifest.postgres.rowCounts['public.pgbench_accounts']).toBe(SCALE * 100_000);
		expect(manifest.redis.mode).toBe('sync');
		expect(manifest.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
		expect(created.stderr).toContain('postgres.dump');

		const list = await runMsdb(['backup', 'list', '--json'], {cwd: directory, env});
		expect(list.json.backups.map((backup: any) => backup.id)).toContain(manifest.id);

		const freshRedis = await startServer();
		cleanups.push(async () => freshRedis.stop());
		const restoredName = `${source.name}_${kind}`.slice(0, 63);
		cleanups.push(async () => query(inject('postgresAdminUrl'), `DROP DATABASE IF EXISTS "${restoredName}" WITH (FORCE)`));
		const restored = await runMsdb(['restore', manifest.id, '--new-database-name', restoredName, '--redis-url', freshRedis.url, '--json'], {cwd: directory, env});
		expect(restored.exitCode, restored.stderr).toBe(0);
		expect(restored.json.problems).toEqual([]);
		expect(restored.json.postgres.database).toBe(restoredName);
		expect(await hashesOf(databaseUrl(restoredName))).toEqual(sourceHashes);
		expect(compareSnapshots(sourceKeys, await snapshotKeyspace(freshRedis.client))).toEqual([]);
	});

	it('restores from the location of a manifest alone', async () => {
		const freshRedis = await startServer();
		cleanups.push(async () => freshRedis.stop());
		const manifestUrl = `s3://${inject('s3').bucket}/round-trip/${backups.s3}/manifest.json`;
		const run = await runMsdb(['restore', manifestUrl, '--only', 'redis', '--redis-url', freshRedis.url, '--json'], {cwd: directory, env: s3Environment()});
		expect(run.exitCode, run.stderr).toBe(0);
		expect(compareSnapshots(sourceKeys, await snapshotKeyspace(freshRedis.client))).toEqual([]);
	});
});

describe('damaged backups', () => {
	it.each(['postgres.dump', 'redis.data'])('one flipped byte in %s: verify exits 3 naming it, restore refuses and touches nothing', async artifact => {
		const id = await copyBackup(backups.directory, artifact === 'postgres.dump' ? 'f1f1f1' : 'f2f2f2');
		const file = path.join(directory, id, artifact);
		const bytes = await readFile(file);
		const index = Math.floor(bytes.length / 2);
		bytes[index] = (bytes[index] ?? 0) ^ 0xff;
		await writeFile(file, bytes);
		const env = {MSDB_BACKUP_TARGET: directory, DATABASE_URL: source.url};

		const verify = await runMsdb(['backup', 'verify', id, '--json'], {cwd: directory, env});
		expect(verify.exitCode).toBe(3);
		expect(verify.json.ok).toBe(false);
		expect(verify.json.problems.map((problem: any) => problem.message).join('\n')).toContain(`${id}/${artifact}`);

		const emptyRedis = await startServer();
		cleanups.push(async () => emptyRedis.stop());
		const before = await databaseNames();
		const restore = await runMsdb(['restore', id, '--redis-url', emptyRedis.url, '--json'], {cwd: directory, env});
		expect(restore.exitCode).toBe(2);
		expect(restore.json.error.code).toBe('E_BACKUP_UNVERIFIED');
		expect(restore.json.error.message).toContain(artifact);
		expect(await databaseNames()).toEqual(before);
		expect(await emptyRedis.client.dbsize()).toBe(0);
	});

	it.each([
		['a wrong checksum', async (id: string, manifest: any) => writeManifest(id, {...manifest, toolVersion: '9.9.9'}, {seal: false}), /checksum/i],
		['an unknown format version', async (id: string, manifest: any) => writeManifest(id, {...manifest, formatVersion: 7}), /format version 7|formatVersion/],
		['a missing field', async (id: string, manifest: any) => {
			const {toolVersion: _dropped, ...rest} = manifest;
			await writeManifest(id, rest);
		}, /toolVersion/],
		['an artifact outside its folder', async (id: string, manifest: any) => writeManifest(id, {...manifest, postgres: {...manifest.postgres, artifact: {...manifest.postgres.artifact, key: `${id}/../elsewhere/postgres.dump`}}}), /outside|folder|\.\./],
	] as const)('a manifest with %s is refused, naming the problem', async (_label, damage, message) => {
		const id = await copyBackup(backups.directory, Math.random().toString(16).slice(2, 8).padEnd(6, '0'));
		const manifest = JSON.parse(await readFile(path.join(directory, id, 'manifest.json'), 'utf8'));
		await damage(id, manifest);
		const env = {MSDB_BACKUP_TARGET: directory, DATABASE_URL: source.url};
		const restore = await runMsdb(['restore', id, '--only', 'postgres', '--json'], {cwd: directory, env});
		expect(restore.exitCode).toBe(2);
		expect(restore.json.error.code).toBe('E_MANIFEST_INVALID');
		expect(restore.json.error.message).toMatch(message);
		const verify = await runMsdb(['backup', 'verify', id, '--json'], {cwd: directory, env});
		expect(verify.exitCode).toBe(3);
		expect(verify.json.problems[0].message).toMatch(message);
	});
});

describe('restore --into replace', () => {
	it('refuses without the database name, then swaps the restored copy in and keeps the old one aside', async () => {
		const live = await createTestDatabase('live');
		cleanups.push(async () => live.drop());
		await query(live.url, 'CREATE TABLE before_restore (id int)');
		const env = {MSDB_BACKUP_TARGET: directory, DATABASE_URL: live.url};
		const before = await databaseNames();

		for (const confirm of [[], ['--confirm', 'someone_else']]) {
			const refused = await runMsdb(['restore', backups.directory, '--only', 'postgres', '--into', 'replace', ...confirm, '--json'], {cwd: directory, env});
			expect(refused.exitCode).toBe(2);
			expect(refused.json.error.code).toBe('E_CONFIRMATION_REQUIRED');
			expect(refused.json.error.nextStep).toContain(`--confirm ${live.name}`);
		}

		expect(await databaseNames()).toEqual(before);
		const replaced = await runMsdb(['restore', backups.directory, '--only', 'postgres', '--into', 'replace', '--confirm', live.name, '--json'], {cwd: directory, env});
		expect(replaced.exitCode, replaced.stderr).toBe(0);
		const aside = replaced.json.postgres.asideDatabase as string;
		cleanups.push(async () => query(inject('postgresAdminUrl'), `DROP DATABASE IF EXISTS "${aside}" WITH (FORCE)`));
		expect(aside).toMatch(new RegExp(`^${live.name}_pre_restore_`));
		expect(await hashesOf(live.url)).toEqual(sourceHashes);
		expect((await query(databaseUrl(aside), "SELECT to_regclass('public.before_restore') IS NOT NULL AS kept"))[0].kept).toBe(true);
		expect(replaced.json.postgres.switchBack).toContain(`RENAME TO "${live.name}"`);
	});
});

describe('an S3 server that dies mid-upload', () => {
	it('fails the backup with exit 1, leaves no manifest, and a second run succeeds', async () => {
		const s3 = await startRestartableS3('msdb-dies');
		cleanups.push(async () => s3.stop());
		const env = {
			DATABASE_URL: source.url,
			MSDB_BACKUP_TARGET: `s3://${s3.bucket}/outage`,
			S3_ENDPOINT: s3.endpoint,
			AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
			AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
			AWS_REGION: s3.region,
			MSDB_S3_PART_SIZE_MIB: '5',
		};
		const child = execa(process.execPath, [CLI_PATH, 'backup', 'create', '--only', 'postgres', '--json'], {cwd: directory, env, reject: false, stdin: 'ignore'});
		let stderr = '';
		await new Promise<void>((resolve, reject) => {
			child.stderr?.on('data', (chunk: Buffer) => {
				stderr += chunk.toString();
				if (/postgres\.dump: [\d.]+ (KiB|MiB)/.test(stderr)) {
					resolve();
				}
			});
			void child.then(() => reject(new Error(`the backup ended before uploading:\n${stderr}`)));
		});
		await s3.kill();
		const result = await child;
		expect(result.exitCode).toBe(1);
		await s3.restart();
		const list = await runMsdb(['backup', 'list', '--json'], {cwd: directory, env});
		expect(list.exitCode).toBe(0);
		expect(list.json.backups).toEqual([]);

		const again = await runMsdb(['backup', 'create', '--only', 'postgres', '--json'], {cwd: directory, env});
		expect(again.exitCode, again.stderr).toBe(0);
		const after = await runMsdb(['backup', 'list', '--json'], {cwd: directory, env});
		expect(after.json.backups.map((backup: any) => backup.id)).toEqual([again.json.id]);
	});
});

describe('backup prune', () => {
	it('--keep-last 2 keeps the two newest and the newest verified one', async () => {
		const target = await mkdtemp(path.join(tmpdir(), 'msdb-prune-'));
		cleanups.push(async () => rm(target, {recursive: true, force: true}));
		const env = {MSDB_BACKUP_TARGET: target, REDIS_URL: sourceRedis.url};
		const ids: string[] = [];
		for (let index = 0; index < 4; index++) {
			const created = await runMsdb(['backup', 'create', '--only', 'redis', '--json'], {cwd: target, env});
			expect(created.exitCode, created.stderr).toBe(0);
			ids.push(created.json.id);
			await new Promise(resolve => setTimeout(resolve, 1100)); // ids and start times are per second
		}

		const verified = await runMsdb(['backup', 'verify', ids[0]!, '--json'], {cwd: target, env});
		expect(verified.exitCode).toBe(0);
		const dryRun = await runMsdb(['backup', 'prune', '--keep-last', '2', '--dry-run', '--json'], {cwd: target, env});
		expect(dryRun.json.deleted).toEqual([ids[1]]);
		expect((await readdir(target)).sort()).toEqual([...ids].sort());
		const pruned = await runMsdb(['backup', 'prune', '--keep-last', '2', '--json'], {cwd: target, env});
		expect(pruned.exitCode).toBe(0);
		expect(pruned.json.deleted).toEqual([ids[1]]);
		expect((await readdir(target)).sort()).toEqual([ids[0], ids[2], ids[3]].sort());
		const list = await runMsdb(['backup', 'list', '--json'], {cwd: target, env});
		expect(list.json.backups.map((backup: any) => backup.id)).toEqual([ids[3], ids[2], ids[0]]);
		expect(list.json.backups[2].lastVerification.ok).toBe(true);
	});
});
