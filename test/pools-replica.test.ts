/**
 * Replica reads against a real streaming replica: a private primary (not the shared test server:
 * pausing replay and stopping servers must not disturb other files) copied with
 * `pg_basebackup -R` into a hot standby.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {DatabasePools, resolvePoolsConfig} from '../source/core/pools/index.js';
import {
	findPostgresBinaries,
	startLocalPostgres,
	startLocalPostgresReplica,
	type LocalPostgresReplica,
	type ProvisionedPostgres,
} from '../source/core/provision/index.js';
import {query} from './support/sql.js';

const binaries = await findPostgresBinaries();
const LAG_THRESHOLD_MS = 500;

type ReadRow = {in_recovery: boolean; rows: string};

describe.skipIf(!binaries)('replica reads with a real streaming replica', () => {
	let primary: ProvisionedPostgres;
	let replica: LocalPostgresReplica;
	let pools: DatabasePools;

	/** Where a read ran (pg_is_in_recovery() is true only on the standby) and what it saw. */
	async function read(): Promise<ReadRow> {
		const result = await pools.read<ReadRow>('SELECT pg_is_in_recovery() AS in_recovery, (SELECT count(*) FROM notes)::text AS rows');
		const row = result.rows[0];
		if (!row) {
			throw new Error('no row');
		}

		return row;
	}

	beforeAll(async () => {
		primary = await startLocalPostgres({...(binaries ? {binaries} : {})});
		await query(primary.url, 'CREATE TABLE notes (id serial PRIMARY KEY, body text)');
		replica = await startLocalPostgresReplica(primary, {...(binaries ? {binaries} : {})});
		pools = new DatabasePools(
			resolvePoolsConfig(
				{databaseUrl: primary.url, overrides: {replica: {url: replica.url}}, replicaMaxLagMs: LAG_THRESHOLD_MS, replicaCheckIntervalMs: 100},
				{},
			),
			{replicaRouter: {maxBackoffMs: 500}},
		);
	});

	afterAll(async () => {
		await pools?.close();
		await replica?.stop();
		await primary?.stop();
	});

	it('serves reads from the replica while it is caught up', async () => {
		expect(await read()).toEqual({in_recovery: true, rows: '0'});
		await query(primary.url, "INSERT INTO notes (body) VALUES ('one')");
		// The replica catches up within milliseconds; reads keep going to it.
		await expect.poll(read).toEqual({in_recovery: true, rows: '1'});
		expect(pools.stats().replica).toMatchObject({target: 'replica', lagThresholdMs: LAG_THRESHOLD_MS, fallbacks: 0, reason: undefined});
		expect(pools.stats().pools.map(pool => pool.role)).toEqual(['primary', 'replica']);
	});

	it('sends reads to the primary while replay is paused and the primary writes past the threshold, and back after resume', async () => {
		await query(replica.url, 'SELECT pg_wal_replay_pause()');
		await query(primary.url, "INSERT INTO notes (body) VALUES ('two')");
		// Every read succeeds; once the lag passes the threshold they see the primary's data.
		await expect.poll(read, {timeout: 15_000}).toEqual({in_recovery: false, rows: '2'});
		const lagging = pools.stats().replica;
		expect(lagging).toMatchObject({target: 'primary'});
		expect(lagging?.reason).toMatch(/^lag .* > 500 ms \(replay paused\)$/);
		expect(lagging?.lagMs).toBeGreaterThan(LAG_THRESHOLD_MS);
		expect(lagging?.fallbacks).toBeGreaterThan(0);

		await query(replica.url, 'SELECT pg_wal_replay_resume()');
		await expect.poll(read, {timeout: 15_000}).toEqual({in_recovery: true, rows: '2'});
		expect(pools.stats().replica).toMatchObject({target: 'replica', reason: undefined});
	});

	it('sends reads to the primary without an error when the replica stops, and back when it returns', async () => {
		const fallbacksBefore = pools.stats().replica?.fallbacks ?? 0;
		await replica.stopReplica();
		// The very next read finds the replica's connections gone and is retried on the primary.
		expect(await read()).toEqual({in_recovery: false, rows: '2'});
		for (let index = 0; index < 5; index++) {
			expect(await read()).toMatchObject({in_recovery: false});
		}

		const down = pools.stats().replica;
		expect(down).toMatchObject({target: 'primary', lagMs: null});
		expect(down?.reason).toMatch(/^replica unreachable: /);
		expect(down?.fallbacks).toBeGreaterThanOrEqual(fallbacksBefore + 6);

		await replica.startReplica();
		await expect.poll(read, {timeout: 15_000}).toEqual({in_recovery: true, rows: '2'});
		expect(pools.stats().replica).toMatchObject({target: 'replica', reason: undefined});
	});

	it('throws errors of the statement itself instead of retrying them on the primary', async () => {
		const fallbacksBefore = pools.stats().replica?.fallbacks;
		await expect(pools.read('SELECT * FROM no_such_table')).rejects.toMatchObject({code: '42P01'});
		expect(pools.stats().replica?.fallbacks).toBe(fallbacksBefore);
	});
});
