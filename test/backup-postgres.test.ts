/**
 * The PostgreSQL half of backups against the real server of the test run and the real pg_dump /
 * pg_restore: round trip (pgbench + the agent schema, every table's ordered content hash; to a
 * directory and to S3), verification of damaged artifacts, restore --into replace, cancellation,
 * the drill.
 */
import {createHash, randomBytes} from 'node:crypto';
import {chmod, mkdtemp, readFile, readdir, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {Transform, type Readable} from 'node:stream';
import pg from 'pg';
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest';
import type {BackupEvent} from '../source/core/backup/backup-events.js';
import type {PostgresManifestPart} from '../source/core/backup/backup-manifest-types.js';
import {
	backupPostgres,
	drillPostgres,
	findPgTools,
	PG_DUMP_APPLICATION_NAME,
	restorePostgres,
	verifyPostgresArtifact,
} from '../source/core/backup/postgres/index.js';
import {DirectoryTarget} from '../source/core/backup/targets/directory-target.js';
import {openBackupTarget} from '../source/core/backup/targets/open-backup-target.js';
import type {BackupTarget} from '../source/core/backup/backup-target.js';
import {ActionableError} from '../source/core/errors.js';
import {createTestDatabase, type TestDatabase} from './support/test-database.js';
import {adminUrl, applyAgentSchema, configOf, hashesOf, pgbenchInit, SCALE} from './support/postgres-fixtures.js';
import {query} from './support/sql.js';

function urlOf(database: string): string {
	const url = new URL(adminUrl());
	url.pathname = `/${database}`;
	return url.toString();
}

async function databasesLike(prefix: string): Promise<string[]> {
	const rows = await query<{datname: string}>(adminUrl(), "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname", [prefix]);
	return rows.map(row => row.datname);
}

async function expectRejection(promise: Promise<unknown>): Promise<ActionableError> {
	const error = await promise.then(
		() => {
			throw new Error('expected a rejection');
		},
		(error: unknown) => error,
	);
	expect(error).toBeInstanceOf(ActionableError);
	return error as ActionableError;
}

/** Polls until `check` passes (sessions take a moment to disappear from pg_stat_activity). */
async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		try {
			await check();
			return;
		} catch (error) {
			if (Date.now() > deadline) {
				throw error;
			}

			await new Promise(resolve => setTimeout(resolve, 100));
		}
	}
}

/** A target that forwards every call to `inner`; tests override the methods they need. */
function delegateTo(inner: BackupTarget): BackupTarget {
	return {
		display: inner.display,
		put: async (key, body, options) => inner.put(key, body, options),
		putBytes: async (key, data) => inner.putBytes(key, data),
		get: async (key, options) => inner.get(key, options),
		getBytes: async key => inner.getBytes(key),
		list: async prefix => inner.list(prefix),
		exists: async key => inner.exists(key),
		deletePrefix: async prefix => inner.deletePrefix(prefix),
		cleanupIncomplete: async prefix => inner.cleanupIncomplete(prefix),
	};
}

function flipByte(data: Buffer, index: number): void {
	data.writeUInt8(data.readUInt8(index) ^ 0x01, index);
}

function sha256(data: Buffer): string {
	return createHash('sha256').update(data).digest('hex');
}

/** The database of the round trip: pgbench at SCALE plus the agent schema with data. */
let source: TestDatabase;
let targetRoot: string;
let target: DirectoryTarget;
let part: PostgresManifestPart;
let backupEvents: BackupEvent[];
let backupMs: number;

beforeAll(async () => {
	source = await createTestDatabase('pg_backup');
	const started = performance.now();
	await pgbenchInit(source, SCALE);
	const pgbenchMs = performance.now() - started;
	await applyAgentSchema(source);
	targetRoot = await mkdtemp(path.join(tmpdir(), 'msdb-pg-backup-'));
	target = new DirectoryTarget(targetRoot);
	backupEvents = [];
	const backupStarted = performance.now();
	part = await backupPostgres({database: configOf(source.url), target, key: 'b1/postgres.dump', rowCounts: true, onEvent: event => backupEvents.push(event)});
	backupMs = performance.now() - backupStarted;
	process.stderr.write(`[backup-postgres] pgbench -i -s ${SCALE}: ${Math.round(pgbenchMs)} ms; backup with row counts: ${Math.round(backupMs)} ms, ${part.artifact.bytes} bytes\n`);
});

afterAll(async () => {
	// Every database a restore or drill made starts with the source's name.
	if (source) {
		for (const name of await databasesLike(`${source.name}_`)) {
			await query(adminUrl(), `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
		}

		await source.drop();
	}

	if (targetRoot) {
		await rm(targetRoot, {recursive: true, force: true});
	}
});

describe('backupPostgres', () => {
	it('records the server, the snapshot LSN and exact row counts, and stores exactly the bytes it hashed', async () => {
		const [server] = await query(source.url, `
			SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int AS num,
			       (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier, pg_current_wal_lsn() AS lsn`);
		expect(part).toMatchObject({
			serverVersion: server.version,
			serverVersionNum: server.num,
			systemIdentifier: server.system_identifier,
			database: source.name,
			format: 'custom',
			artifact: {key: 'b1/postgres.dump', format: 'pg_dump-custom'},
		});
		expect(part.systemIdentifier).toMatch(/^\d{10,}$/);
		const [pgDump] = await findPgTools('pg_dump');
		expect(part.pgDumpVersion).toBe(pgDump?.version);
		expect(part.walLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
		const [{before}] = await query(source.url, 'SELECT $1::pg_lsn <= pg_current_wal_lsn() AS before', [part.walLsn]);
		expect(before).toBe(true);

		const file = await readFile(path.join(targetRoot, 'b1', 'postgres.dump'));
		expect(file.subarray(0, 5).toString()).toBe('PGDMP');
		expect(part.artifact.bytes).toBe(file.length);
		expect(part.artifact.sha256).toBe(sha256(file));

		expect(part.rowCounts?.['public.pgbench_accounts']).toBe(100_000 * SCALE);
		expect(part.rowCounts?.['public.pgbench_branches']).toBe(SCALE);
		expect(part.rowCounts?.['agents.agents']).toBe(50);
		expect(part.rowCounts?.['audit.events']).toBeGreaterThan(250);
		expect(part.rowCounts?.['messages.messages_default']).toBeGreaterThan(0);
		expect(Object.keys(part.rowCounts ?? {})).toContain('public.__ms_migrations');

		expect(backupEvents.some(event => event.type === 'artifact:start' && event.operation === 'upload')).toBe(true);
		const done = backupEvents.find(event => event.type === 'artifact:done');
		expect(done).toMatchObject({component: 'postgres', key: 'b1/postgres.dump', bytes: file.length, sha256: part.artifact.sha256});
	});

	it('refuses up front when pg_dump is older than the server, storing nothing', async () => {
		const bin = await mkdtemp(path.join(tmpdir(), 'msdb-fake-pg-dump-'));
		try {
			// Not another PostgreSQL: a script that answers --version like an old pg_dump would.
			await writeFile(path.join(bin, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 14.11"\n');
			await chmod(path.join(bin, 'pg_dump'), 0o755);
			const error = await expectRejection(backupPostgres({database: configOf(source.url), target, key: 'old/postgres.dump', pgBinDirectory: bin}));
			expect(error.code).toBe('E_PG_DUMP_TOO_OLD');
			expect(error.exitCode).toBe(2);
			expect(error.message).toContain('14.11');
			expect(await target.exists('old/postgres.dump')).toBe(false);
		} finally {
			await rm(bin, {recursive: true, force: true});
		}
	});

	it('hands pg_dump the password through its environment, never its command line', async () => {
		const [realPgDump] = await findPgTools('pg_dump');
		const bin = await mkdtemp(path.join(tmpdir(), 'msdb-spy-pg-dump-'));
		try {
			await writeFile(
				path.join(bin, 'pg_dump'),
				`#!/bin/sh\nprintf '%s\\n' "$*" >> "${bin}/args"\nprintf '%s' "$PGPASSWORD" > "${bin}/password"\nexec "${realPgDump!.path}" "$@"\n`,
			);
			await chmod(path.join(bin, 'pg_dump'), 0o755);
			const password = `pw-${randomBytes(6).toString('hex')}`;
			const url = new URL(source.url);
			url.password = password; // The test server trusts every local connection; the password only travels.
			const spied = await backupPostgres({database: configOf(url.toString()), target, key: 'spy/postgres.dump', pgBinDirectory: bin});
			expect(spied.artifact.bytes).toBeGreaterThan(0);
			expect(await readFile(path.join(bin, 'password'), 'utf8')).toBe(password);
			const args = await readFile(path.join(bin, 'args'), 'utf8');
			expect(args).toContain('--snapshot=');
			expect(args).not.toContain(password);
		} finally {
			await rm(bin, {recursive: true, force: true});
		}
	});

	it('stores nothing when pg_dump dies half-way, and says what pg_dump said', async () => {
		// The upload holds its first chunk until pg_dump's session is gone: pg_dump, blocked on a
		// full pipe, cannot finish first, so it really dies half-way.
		let terminated = 0;
		const holding: BackupTarget = {
			...delegateTo(target),
			put: async (key: string, body: Readable, options?: {onProgress?: (bytes: number) => void; signal?: AbortSignal}) => {
				let first = true;
				const hold = new Transform({
					transform(chunk: Buffer, _encoding, callback) {
						if (!first) {
							callback(null, chunk);
							return;
						}

						first = false;
						query(adminUrl(), 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2', [PG_DUMP_APPLICATION_NAME, source.name]).then(
							rows => {
								terminated = rows.length;
								callback(null, chunk);
							},
							(error: Error) => callback(error),
						);
					},
				});
				body.on('error', error => hold.destroy(error));
				return target.put(key, body.pipe(hold), options);
			},
		};
		const error = await expectRejection(backupPostgres({database: configOf(source.url), target: holding, key: 'killed/postgres.dump'}));
		expect(terminated).toBe(1);
		expect(error.code).toBe('E_BACKUP_FAILED');
		expect(error.message).toMatch(/pg_dump failed \(exit code 1\)/);
		expect(error.message).toMatch(/terminat|connection/i);
		expect(await target.exists('killed/postgres.dump')).toBe(false);
		expect(await readdir(path.join(targetRoot, 'killed')).catch(() => [])).toEqual([]);
	});

	it('when the target fails, reports the target\'s error (not pg_dump\'s death) and stops pg_dump', async () => {
		const failing: BackupTarget = {
			...delegateTo(target),
			put: async (_key, body) => {
				// Reads a little, then fails like a lost S3 connection would.
				for await (const _chunk of body) {
					throw new ActionableError('E_BACKUP_TARGET_UNAVAILABLE', 'the bucket went away');
				}

				throw new Error('unreachable');
			},
		};
		const error = await expectRejection(backupPostgres({database: configOf(source.url), target: failing, key: 'gone/postgres.dump', rowCounts: true}));
		expect(error.code).toBe('E_BACKUP_TARGET_UNAVAILABLE');
		await eventually(async () => {
			const sessions = await query(adminUrl(), "SELECT application_name FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'msdb:%'", [source.name]);
			expect(sessions).toEqual([]);
		});
	});

	it('is cancelled by its signal: pg_dump is killed, the snapshot released, nothing stored', async () => {
		const controller = new AbortController();
		const error = await expectRejection(
			backupPostgres({
				database: configOf(source.url),
				target,
				key: 'cancelled/postgres.dump',
				rowCounts: true,
				signal: controller.signal,
				onEvent: event => {
					if (event.type === 'artifact:progress') {
						controller.abort();
					}
				},
			}),
		);
		expect(error.code).toBe('E_CANCELLED');
		expect(await target.exists('cancelled/postgres.dump')).toBe(false);
		const left = await readdir(path.join(targetRoot, 'cancelled')).catch(() => []);
		expect(left).toEqual([]);
		await eventually(async () => {
			const sessions = await query(adminUrl(), "SELECT application_name FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'msdb:%'", [source.name]);
			expect(sessions).toEqual([]);
		});
	});
});

describe('restorePostgres --into new', () => {
	it('restores every table with identical ordered content, and counts that match the manifest', async () => {
		const events: BackupEvent[] = [];
		const result = await restorePostgres({database: configOf(source.url), target, part, onEvent: event => events.push(event), now: new Date('2025-01-02T03:04:05Z')});
		expect(result.into).toBe('new');
		expect(result.database).toBe(`${source.name}_restore_20250102_030405`);
		expect(result.asideDatabase).toBeUndefined();
		expect(result.rowCounts).toEqual(part.rowCounts);
		expect(result.bytes).toBe(part.artifact.bytes);

		const original = await hashesOf(source.url);
		const restored = await hashesOf(urlOf(result.database));
		expect(Object.keys(original)).toEqual(expect.arrayContaining(['public.pgbench_accounts', 'public.pgbench_history', 'agents.agents', 'knowledge.chunks', 'audit.events', 'messages.messages_default']));
		expect(restored).toEqual(original);
		expect(events.some(event => event.type === 'artifact:progress' && event.operation === 'restore' && event.totalBytes === part.artifact.bytes)).toBe(true);

		// The comparison can see a difference: one changed row changes its table's hash only.
		await query(urlOf(result.database), 'UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 4242');
		const changed = await hashesOf(urlOf(result.database));
		expect(changed['public.pgbench_accounts']).not.toBe(original['public.pgbench_accounts']);
		expect({...changed, 'public.pgbench_accounts': ''}).toEqual({...original, 'public.pgbench_accounts': ''});
	});

	it('round-trips through S3 too: streamed into the bucket, verified and restored from it', async () => {
		const s3 = inject('s3');
		const s3Target = openBackupTarget(`s3://${s3.bucket}/pg-${randomBytes(4).toString('hex')}`, {
			S3_ENDPOINT: s3.endpoint,
			AWS_ACCESS_KEY_ID: s3.accessKeyId,
			AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
			AWS_REGION: s3.region,
		});
		const s3Part = await backupPostgres({database: configOf(source.url), target: s3Target, key: 's1/postgres.dump', rowCounts: true});
		const stored: Buffer[] = [];
		for await (const chunk of await s3Target.get('s1/postgres.dump')) {
			stored.push(chunk as Buffer);
		}

		expect(s3Part.artifact.sha256).toBe(sha256(Buffer.concat(stored)));
		expect(await verifyPostgresArtifact({target: s3Target, part: s3Part})).toMatchObject({ok: true, problems: []});
		const result = await restorePostgres({database: configOf(source.url), target: s3Target, part: s3Part, newDatabaseName: `${source.name}_from_s3`});
		expect(result.rowCounts).toEqual(s3Part.rowCounts);
		expect(await hashesOf(urlOf(result.database))).toEqual(await hashesOf(source.url));
	});

	it('is cancelled by its signal: pg_restore is killed and the new database dropped', async () => {
		const controller = new AbortController();
		const now = new Date('2025-01-02T04:00:00Z');
		const error = await expectRejection(
			restorePostgres({
				database: configOf(source.url),
				target,
				part,
				now,
				signal: controller.signal,
				onEvent: event => {
					if (event.type === 'artifact:progress') {
						controller.abort();
					}
				},
			}),
		);
		expect(error.code).toBe('E_CANCELLED');
		expect(await databasesLike(`${source.name}_restore_20250102_040000`)).toEqual([]);
	});

	it('refuses a name that is taken', async () => {
		const error = await expectRejection(restorePostgres({database: configOf(source.url), target, part, newDatabaseName: source.name}));
		expect(error.code).toBe('E_DATABASE_EXISTS');
		expect(error.exitCode).toBe(2);
	});
});

describe('verifyPostgresArtifact', () => {
	it('passes an intact artifact and lists its table of contents', async () => {
		const result = await verifyPostgresArtifact({target, part});
		expect(result.problems).toEqual([]);
		expect(result.ok).toBe(true);
		expect(result.tocEntries).toBeGreaterThan(50);
	});

	it('reports one flipped byte, naming the artifact', async () => {
		const file = await readFile(path.join(targetRoot, 'b1', 'postgres.dump'));
		flipByte(file, Math.floor(file.length / 2));
		await target.putBytes('flipped/postgres.dump', file);
		const damaged: PostgresManifestPart = {...part, artifact: {...part.artifact, key: 'flipped/postgres.dump'}};
		const result = await verifyPostgresArtifact({target, part: damaged});
		expect(result.ok).toBe(false);
		expect(result.problems).toEqual([
			{component: 'postgres', artifact: 'flipped/postgres.dump', message: expect.stringMatching(/^flipped\/postgres\.dump: sha256 is [0-9a-f]{64}, the manifest says /)},
		]);
	});

	it('has pg_restore --list catch a dump cut short, even when the manifest matches the cut bytes', async () => {
		const file = await readFile(path.join(targetRoot, 'b1', 'postgres.dump'));
		const cut = file.subarray(0, 2000);
		await target.putBytes('cut/postgres.dump', cut);
		const truncated: PostgresManifestPart = {...part, artifact: {...part.artifact, key: 'cut/postgres.dump', bytes: cut.length, sha256: sha256(cut)}};
		const result = await verifyPostgresArtifact({target, part: truncated});
		expect(result.ok).toBe(false);
		expect(result.problems).toHaveLength(1);
		expect(result.problems[0]).toMatchObject({artifact: 'cut/postgres.dump', message: expect.stringMatching(/^cut\/postgres\.dump: pg_restore --list cannot read it \(exit code 1\): .*pg_restore/s)});
	});

	it('reports a missing artifact instead of throwing', async () => {
		const missing: PostgresManifestPart = {...part, artifact: {...part.artifact, key: 'nowhere/postgres.dump'}};
		const result = await verifyPostgresArtifact({target, part: missing});
		expect(result.ok).toBe(false);
		expect(result.problems[0]?.message).toMatch(/^nowhere\/postgres\.dump: cannot be read/);
	});

	it('a damaged artifact fails a restore, which drops what it created and leaves the live database alone', async () => {
		const damaged: PostgresManifestPart = {...part, artifact: {...part.artifact, key: 'flipped/postgres.dump'}};
		const before = await databasesLike(source.name);
		const error = await expectRejection(restorePostgres({database: configOf(source.url), target, part: damaged, into: 'replace', confirm: source.name}));
		expect(error.code).toBe('E_RESTORE_FAILED');
		expect(error.message).toContain('flipped/postgres.dump');
		expect(error.message).toMatch(/was dropped/);
		expect(await databasesLike(source.name)).toEqual(before);
		const [{count}] = await query(source.url, 'SELECT count(*)::int AS count FROM pgbench_accounts');
		expect(count).toBe(100_000 * SCALE);
	});
});

describe('restorePostgres --into replace', () => {
	let live: TestDatabase;
	let livePart: PostgresManifestPart;
	let liveTarget: DirectoryTarget;

	beforeAll(async () => {
		live = await createTestDatabase('pg_replace');
		await pgbenchInit(live, 1);
		await query(live.url, "CREATE TABLE marker (note text PRIMARY KEY); INSERT INTO marker VALUES ('in the backup')");
		// Database-level properties a dump without --create leaves out, which a replace must keep.
		await query(adminUrl(), `ALTER DATABASE "${live.name}" SET work_mem = '7MB'`);
		await query(adminUrl(), `ALTER DATABASE "${live.name}" SET search_path = "$user", public, extra`);
		await query(adminUrl(), `COMMENT ON DATABASE "${live.name}" IS 'the live one'`);
		liveTarget = new DirectoryTarget(path.join(targetRoot, 'replace'));
		livePart = await backupPostgres({database: configOf(live.url), target: liveTarget, key: 'r1/postgres.dump', rowCounts: true});
		await query(live.url, "INSERT INTO marker VALUES ('after the backup')");
	});

	afterAll(async () => {
		for (const name of await databasesLike(`${live.name}_`)) {
			await query(adminUrl(), `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
		}

		await live.drop();
	});

	it('refuses without the right --confirm and changes nothing', async () => {
		const before = await databasesLike(live.name);
		for (const confirm of [undefined, 'someone_else', `${live.name} `]) {
			const error = await expectRejection(restorePostgres({database: configOf(live.url), target: liveTarget, part: livePart, into: 'replace', confirm}));
			expect(error.code).toBe('E_CONFIRMATION_REQUIRED');
			expect(error.exitCode).toBe(2);
			expect(error.message).toContain('Nothing was changed');
			expect(error.nextStep).toContain(`--confirm ${live.name}`);
		}

		expect(await databasesLike(live.name)).toEqual(before);
		expect(await query(live.url, 'SELECT note FROM marker ORDER BY note')).toEqual([{note: 'after the backup'}, {note: 'in the backup'}]);
	});

	it('swaps the restored database in, keeps the old one aside, and switchBack undoes it', async () => {
		// An application session on the live database: the swap must end it.
		const session = new pg.Client({connectionString: live.url});
		session.on('error', () => {});
		await session.connect();
		const liveHashes = await hashesOf(live.url);
		const result = await restorePostgres({
			database: configOf(live.url),
			target: liveTarget,
			part: livePart,
			into: 'replace',
			confirm: live.name,
			now: new Date('2025-03-04T05:06:07Z'),
		});
		const aside = `${live.name}_pre_restore_20250304_050607`;
		const restoredName = `${live.name}_restore_20250304_050607`;
		expect(result).toMatchObject({into: 'replace', database: live.name, asideDatabase: aside, warnings: []});
		expect(result.rowCounts).toEqual(livePart.rowCounts);
		await expect(session.query('SELECT 1')).rejects.toThrow();
		await session.end().catch(() => {});

		expect(await query(live.url, 'SELECT note FROM marker')).toEqual([{note: 'in the backup'}]);
		expect(await query(urlOf(aside), 'SELECT note FROM marker ORDER BY note')).toEqual([{note: 'after the backup'}, {note: 'in the backup'}]);
		expect(await hashesOf(urlOf(aside))).toEqual(liveHashes);
		const [settings] = await query(live.url, `
			SELECT current_setting('work_mem') AS work_mem, current_setting('search_path') AS search_path,
			       shobj_description((SELECT oid FROM pg_database WHERE datname = current_database()), 'pg_database') AS comment`);
		expect(settings).toEqual({work_mem: '7MB', search_path: '"$user", public, extra', comment: 'the live one'});

		// The instruction it prints works: the old database is back under the live name.
		expect(result.switchBack).toContain(`ALTER DATABASE "${live.name}" RENAME TO "${restoredName}";`);
		expect(result.switchBack).toContain(`ALTER DATABASE "${aside}" RENAME TO "${live.name}";`);
		await query(adminUrl(), result.switchBack!);
		expect(await query(live.url, 'SELECT note FROM marker ORDER BY note')).toEqual([{note: 'after the backup'}, {note: 'in the backup'}]);
		expect(await query(urlOf(restoredName), 'SELECT note FROM marker')).toEqual([{note: 'in the backup'}]);
		expect(await databasesLike(aside)).toEqual([]);
	});
});

describe('drillPostgres', () => {
	it('restores into a scratch database, finds the manifest\'s counts even with writes during the backup, and drops it', async () => {
		// Rows committed while the dump runs: only a dump in the counts' own snapshot agrees with them.
		let writing = true;
		const writer = new pg.Client({connectionString: source.url});
		await writer.connect();
		await writer.query('INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 1, now())');
		const writes = (async () => {
			let written = 0;
			while (writing) {
				await writer.query("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 1, now())");
				written++;
			}

			return written;
		})();
		let busyPart: PostgresManifestPart;
		try {
			busyPart = await backupPostgres({database: configOf(source.url), target, key: 'busy/postgres.dump', rowCounts: true});
		} finally {
			writing = false;
			await writes;
			await writer.end();
		}

		const [{count}] = await query(source.url, 'SELECT count(*)::int AS count FROM pgbench_history');
		expect(busyPart.rowCounts?.['public.pgbench_history']).toBeGreaterThan(0);
		expect(busyPart.rowCounts?.['public.pgbench_history']).toBeLessThan(count);

		const events: BackupEvent[] = [];
		const result = await drillPostgres({database: configOf(source.url), target, part: busyPart, onEvent: event => events.push(event)});
		expect(result.problems).toEqual([]);
		expect(result.ok).toBe(true);
		expect(result.comparedCounts).toBe(true);
		expect(result.counts).toEqual(busyPart.rowCounts);
		expect(result.scratchDatabase).toMatch(new RegExp(`^${source.name}_drill_\\d{8}_\\d{6}$`));
		expect(await databasesLike(result.scratchDatabase)).toEqual([]);
		expect(events.some(event => event.type === 'backup:step' && event.message.includes('every count matches'))).toBe(true);
	});

	it('reports counts that differ from the manifest, naming the artifact and the table', async () => {
		const tampered: PostgresManifestPart = {
			...part,
			rowCounts: {...part.rowCounts, 'public.pgbench_branches': SCALE + 1, 'public.vanished': 3},
		};
		// A drill started in the same second as another takes the next free name.
		const now = new Date('2025-05-06T07:08:09Z');
		await query(adminUrl(), `CREATE DATABASE "${source.name}_drill_20250506_070809"`);
		const result = await drillPostgres({database: configOf(source.url), target, part: tampered, now});
		expect(result.scratchDatabase).toBe(`${source.name}_drill_20250506_070809_2`);
		expect(result.ok).toBe(false);
		expect(result.problems.map(problem => problem.message)).toEqual([
			`b1/postgres.dump: public.pgbench_branches: ${SCALE} rows restored, the backup counted ${SCALE + 1}`,
			'b1/postgres.dump: public.vanished: missing after the restore (the backup counted 3 rows)',
		]);
		expect(result.problems.every(problem => problem.artifact === 'b1/postgres.dump' && problem.component === 'postgres')).toBe(true);
		expect(await databasesLike(result.scratchDatabase)).toEqual([]);
	});

	it('reports a dump that does not restore as a finding', async () => {
		const damaged: PostgresManifestPart = {...part, artifact: {...part.artifact, key: 'flipped/postgres.dump'}};
		// The flipped artifact is written by the verify tests; write it here too so this test stands alone.
		const file = await readFile(path.join(targetRoot, 'b1', 'postgres.dump'));
		flipByte(file, Math.floor(file.length / 2));
		await target.putBytes('flipped/postgres.dump', file);
		const result = await drillPostgres({database: configOf(source.url), target, part: damaged});
		expect(result.ok).toBe(false);
		expect(result.problems[0]?.message).toMatch(/^flipped\/postgres\.dump: the drill restore failed/);
		expect(await databasesLike(result.scratchDatabase)).toEqual([]);
	});
});
