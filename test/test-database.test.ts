import pg from 'pg';
import {describe, expect, it} from 'vitest';
import {createTestDatabase, testDatabaseName, useTestDatabase} from './support/test-database.js';

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
	const client = new pg.Client({connectionString: url});
	await client.connect();
	try {
		return await work(client);
	} finally {
		await client.end();
	}
}

describe('test databases', () => {
	const fileDatabase = useTestDatabase('harness');

	it('useTestDatabase() gives the file a database of its own', async () => {
		expect(fileDatabase.name).toMatch(/^msdb_harness_[0-9a-f]{10}$/);
		const name = await withClient(fileDatabase.url, async client => (await client.query('SELECT current_database() AS name')).rows[0]?.name);
		expect(name).toBe(fileDatabase.name);
	});

	it('makes valid, unique names from any label', () => {
		expect(testDatabaseName('Weird Label!!')).toMatch(/^msdb_weird_label_[0-9a-f]{10}$/);
		expect(testDatabaseName('')).toMatch(/^msdb_test_[0-9a-f]{10}$/);
		expect(testDatabaseName('x'.repeat(200)).length).toBeLessThanOrEqual(63);
		expect(testDatabaseName('same')).not.toBe(testDatabaseName('same'));
	});

	it('creates distinct databases, and drop() really drops even with a session still open', async () => {
		const first = await createTestDatabase('first');
		const second = await createTestDatabase('second');
		try {
			expect(first.name).not.toBe(second.name);
			await withClient(first.url, async client => client.query('CREATE TABLE only_in_first (id int)'));
			const seenInSecond = await withClient(second.url, async client =>
				(await client.query("SELECT to_regclass('only_in_first') AS found")).rows[0]?.found,
			);
			expect(seenInSecond).toBeNull();
		} finally {
			await second.drop();
		}

		// A forgotten connection must not block cleanup: WITH (FORCE) ends it.
		const lingering = new pg.Client({connectionString: first.url});
		lingering.on('error', () => {});
		await lingering.connect();
		await first.drop();
		await first.drop(); // idempotent
		await lingering.end().catch(() => {});

		const remaining = await withClient(fileDatabase.url, async client =>
			(await client.query('SELECT datname FROM pg_database WHERE datname = ANY($1)', [[first.name, second.name]])).rows,
		);
		expect(remaining).toEqual([]);
		await expect(withClient(first.url, async client => client.query('SELECT 1'))).rejects.toMatchObject({code: '3D000'});
	});
});
