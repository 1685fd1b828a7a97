import type pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {ActionableError} from '../source/core/errors.js';
import {DatabasePools, POOL_ROLES, resolvePoolsConfig, type PoolRole, type PoolStats} from '../source/core/pools/index.js';
import {query} from './support/sql.js';
import {useTestDatabase} from './support/test-database.js';
import {thrownActionableError} from './support/thrown-error.js';

/** A promise and the function that settles it, to hold a checked-out client as long as a test needs. */
function gate(): {opened: Promise<void>; open: () => void} {
	let open = () => {};
	const opened = new Promise<void>(resolve => {
		open = resolve;
	});
	return {opened, open};
}

function statsOf(pools: DatabasePools, role: PoolRole): PoolStats {
	const stats = pools.stats().pools.find(pool => pool.role === role);
	if (!stats) {
		throw new Error(`no stats for the ${role} pool`);
	}

	return stats;
}

describe('resolvePoolsConfig', () => {
	const primaryUrl = 'postgres://app:s3cret-pw@db.example:5432/app';

	it('gives every role the primary URL and the default sizes when nothing else is set', () => {
		const config = resolvePoolsConfig({databaseUrl: primaryUrl}, {});
		expect(Object.keys(config.roles)).toEqual([...POOL_ROLES]);
		for (const role of POOL_ROLES) {
			expect(config.roles[role]).toMatchObject({role, ownUrl: false, idleTimeoutMs: 30_000, connectTimeoutMs: 5000});
			expect(config.roles[role].database.connectionString).toBe(primaryUrl);
		}

		expect(config.roles.primary.database.source).toBe('--database-url');
		expect(config.roles.primary.database.display).not.toContain('s3cret-pw');
		expect([config.roles.primary.max, config.roles.replica.max, config.roles.background.max, config.roles.analytics.max, config.roles.streaming.max]).toEqual([10, 10, 4, 4, 2]);
		expect(config.replicaMaxLagMs).toBe(5000);
		expect(config.replicaCheckIntervalMs).toBe(1000);
	});

	it('reads DATABASE_<ROLE>_URL, MSDB_POOL_<ROLE>_* and MSDB_REPLICA_MAX_LAG; explicit overrides win', () => {
		const config = resolvePoolsConfig(
			{overrides: {analytics: {max: 2}}},
			{
				DATABASE_URL: primaryUrl,
				DATABASE_REPLICA_URL: 'postgres://app:other-pw@replica.example/app',
				DATABASE_ANALYTICS_URL: '',
				MSDB_POOL_BACKGROUND_MAX: '7',
				MSDB_POOL_ANALYTICS_MAX: '9',
				MSDB_POOL_REPLICA_IDLE_TIMEOUT: '2min',
				MSDB_POOL_STREAMING_CONNECT_TIMEOUT: '0',
				MSDB_REPLICA_MAX_LAG: '750ms',
			},
		);
		expect(config.roles.primary.database.source).toBe('DATABASE_URL');
		expect(config.roles.replica).toMatchObject({ownUrl: true, idleTimeoutMs: 120_000});
		expect(config.roles.replica.database.source).toBe('DATABASE_REPLICA_URL');
		expect(config.roles.replica.database.display).toBe('postgres://app:***@replica.example/app');
		// An empty variable is unset, as with DATABASE_URL.
		expect(config.roles.analytics).toMatchObject({ownUrl: false, max: 2});
		expect(config.roles.background.max).toBe(7);
		expect(config.roles.streaming.connectTimeoutMs).toBe(0);
		expect(config.replicaMaxLagMs).toBe(750);
		expect(resolvePoolsConfig({databaseUrl: primaryUrl, replicaMaxLagMs: 100}, {MSDB_REPLICA_MAX_LAG: '9s'}).replicaMaxLagMs).toBe(100);
	});

	it('refuses bad values (exit 2), naming the variable and what it expects, never printing a password', () => {
		const cases: Array<[Record<string, string>, RegExp]> = [
			[{MSDB_POOL_PRIMARY_MAX: 'ten'}, /MSDB_POOL_PRIMARY_MAX must be a whole number from 1 to 1000; got 'ten'/],
			[{MSDB_POOL_STREAMING_MAX: '0'}, /MSDB_POOL_STREAMING_MAX must be a whole number/],
			[{MSDB_POOL_REPLICA_IDLE_TIMEOUT: '30'}, /MSDB_POOL_REPLICA_IDLE_TIMEOUT must be a number with a unit \(500ms, 30s/],
			[{MSDB_POOL_ANALYTICS_CONNECT_TIMEOUT: 'soon'}, /MSDB_POOL_ANALYTICS_CONNECT_TIMEOUT must be/],
			[{MSDB_REPLICA_MAX_LAG: '-1s'}, /MSDB_REPLICA_MAX_LAG must be/],
			[{MSDB_REPLICA_CHECK_INTERVAL: '0'}, /MSDB_REPLICA_CHECK_INTERVAL must be a positive duration/],
			[{DATABASE_BACKGROUND_URL: 'mysql://root:hunter2-pw@db/app'}, /DATABASE_BACKGROUND_URL must be a postgres:\/\/ or postgresql:\/\/ URL: mysql:\/\/root:\*\*\*@db\/app/],
		];
		for (const [env, message] of cases) {
			const error = thrownActionableError(() => resolvePoolsConfig({databaseUrl: primaryUrl}, env));
			expect(error.code).toBe('E_CONFIG_INVALID');
			expect(error.exitCode).toBe(2);
			expect(error.message).toMatch(message);
			expect(error.message).not.toContain('hunter2-pw');
			expect(error.nextStep).toBeTruthy();
		}

		const override = thrownActionableError(() => resolvePoolsConfig({databaseUrl: primaryUrl, overrides: {background: {max: 2.5}}}, {}));
		expect(override).toMatchObject({code: 'E_BAD_ARGUMENT', exitCode: 2});
		expect(override.message).toMatch(/overrides\.background\.max must be a whole number/);
	});
});

describe('DatabasePools', () => {
	const database = useTestDatabase('pools');
	let pools: DatabasePools;
	const idleErrors: Array<{role: PoolRole; error: Error}> = [];

	beforeAll(() => {
		pools = new DatabasePools(
			resolvePoolsConfig({databaseUrl: database.url, overrides: {primary: {max: 2, connectTimeoutMs: 300}}}, {}),
			{onError: (role, error) => idleErrors.push({role, error})},
		);
	});

	afterAll(async () => {
		await pools?.close();
	});

	it('creates pools lazily, and each role shows as application_name msdb:<role> in pg_stat_activity', async () => {
		expect(pools.stats().pools).toEqual([]);
		expect(pools.stats().replica).toBeUndefined();
		expect(pools.pool('analytics')).toBe(pools.pool('analytics'));
		for (const role of POOL_ROLES) {
			await pools.query(role, 'SELECT 1');
		}

		const rows = await query<{application_name: string}>(
			database.url,
			'SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE $1',
			['msdb:%'],
		);
		expect(rows.map(row => row.application_name).sort()).toEqual(POOL_ROLES.map(role => `msdb:${role}`).sort());
		expect(pools.stats().pools.map(pool => pool.role)).toEqual([...POOL_ROLES]);
		// Without a replica URL, replica reads use the primary.
		const read = await pools.read<{application_name: string}>("SELECT current_setting('application_name') AS application_name");
		expect(read.rows[0]?.application_name).toBe('msdb:primary');
	});

	it('counts checkouts, waiting callers, queries and their errors', async () => {
		const before = statsOf(pools, 'primary');
		await pools.query('primary', 'SELECT $1::int AS n', [1]);
		await expect(pools.query('primary', 'SELECT * FROM no_such_table')).rejects.toMatchObject({code: '42P01'});
		const afterQueries = statsOf(pools, 'primary');
		expect(afterQueries.queries).toBe(before.queries + 2);
		expect(afterQueries.queryErrors).toBe(before.queryErrors + 1);
		expect(afterQueries.queryLatency.count).toBe(before.queryLatency.count + 2);
		expect(afterQueries.acquisitions).toBe(before.acquisitions + 2);
		expect(afterQueries.acquireLatency.count).toBe(before.acquireLatency.count + 2);

		// Hold both connections of the 2-connection pool: the next caller waits, then times out.
		const held = gate();
		const holding = [0, 1].map(async () => pools.withClient('primary', async () => held.opened));
		await expect.poll(() => statsOf(pools, 'primary')).toMatchObject({total: 2, idle: 0});
		const waiter = pools.query('primary', 'SELECT 1');
		expect(statsOf(pools, 'primary').waiting).toBe(1);
		const exhausted = await waiter.then(
			() => undefined,
			(error: unknown) => error,
		);
		expect(exhausted).toBeInstanceOf(ActionableError);
		expect(exhausted).toMatchObject({code: 'E_SERVICE_UNAVAILABLE'});
		expect((exhausted as Error).message).toMatch(/msdb:primary pool .* all 2 are in use/);
		const whileHeld = statsOf(pools, 'primary');
		expect(whileHeld.acquireErrors).toBe(afterQueries.acquireErrors + 1);
		expect(whileHeld.waiting).toBe(0);

		// A caller that waits gets the first connection given back.
		const queued = pools.query<{n: number}>('primary', 'SELECT 2 AS n');
		expect(statsOf(pools, 'primary').waiting).toBe(1);
		held.open();
		await Promise.all(holding);
		expect((await queued).rows[0]?.n).toBe(2);
		expect(statsOf(pools, 'primary')).toMatchObject({max: 2, total: 2, idle: 2, waiting: 0});
	});

	it('survives the server ending idle connections (pg_terminate_backend) and reconnects on demand', async () => {
		await pools.query('background', 'SELECT 1');
		expect(statsOf(pools, 'background').idle).toBeGreaterThan(0);
		// OFFSET 0 keeps the filter ahead of pg_terminate_backend: the planner may otherwise evaluate it on every row.
		const terminated = await query<{terminated: boolean}>(
			database.url,
			`SELECT pg_terminate_backend(pid) AS terminated FROM (SELECT pid FROM pg_stat_activity
				WHERE datname = current_database() AND application_name = 'msdb:background' OFFSET 0) AS background`,
		);
		expect(terminated.length).toBeGreaterThan(0);
		await expect.poll(() => idleErrors.filter(entry => entry.role === 'background').length).toBeGreaterThan(0);
		expect(idleErrors[0]?.error.message).toMatch(/terminat/i);
		await expect.poll(() => statsOf(pools, 'background').total).toBe(0);
		const after = await pools.query<{n: number}>('background', 'SELECT 3 AS n');
		expect(after.rows[0]?.n).toBe(3);
	});

	it('withClient gives the client back on success and failure, and discards one whose session was ended', async () => {
		const inTransaction = await pools.withClient('analytics', async client => {
			await client.query('BEGIN');
			const {rows} = await client.query<{n: number}>('SELECT 4 AS n');
			await client.query('COMMIT');
			return rows[0]?.n;
		});
		expect(inTransaction).toBe(4);
		await expect(pools.withClient('analytics', async client => client.query('SELECT 1/0'))).rejects.toMatchObject({code: '22012'});
		expect(statsOf(pools, 'analytics')).toMatchObject({idle: statsOf(pools, 'analytics').total, waiting: 0});

		// The session dies while checked out and idle between two statements: no crash, the error reaches the caller.
		const failure = await pools
			.withClient('analytics', async (client: pg.PoolClient) => {
				const {rows} = await client.query<{pid: number}>('SELECT pg_backend_pid() AS pid');
				await query(database.url, 'SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
				await new Promise(resolve => setTimeout(resolve, 100));
				return client.query('SELECT 1');
			})
			.then(
				() => undefined,
				(error: unknown) => error,
			);
		expect(failure).toBeInstanceOf(Error);
		const after = await pools.query<{n: number}>('analytics', 'SELECT 5 AS n');
		expect(after.rows[0]?.n).toBe(5);
	});

	it('names the pool and the redacted server when it cannot connect', async () => {
		const url = new URL(database.url);
		url.password = 'hunter2-pw';
		url.pathname = '/msdb_no_such_database';
		const broken = new DatabasePools(resolvePoolsConfig({databaseUrl: url.toString()}, {}));
		try {
			const error = await broken.query('streaming', 'SELECT 1').then(
				() => undefined,
				(error_: unknown) => error_,
			);
			expect(error).toMatchObject({code: 'E_DATABASE_UNREACHABLE', details: {role: 'streaming', sqlState: '3D000'}});
			expect((error as Error).message).toMatch(/msdb:streaming pool/);
			expect((error as Error).message).not.toContain('hunter2-pw');
			expect(broken.stats().pools[0]).toMatchObject({role: 'streaming', acquireErrors: 1, acquisitions: 0});
		} finally {
			await broken.close();
		}
	});
});
