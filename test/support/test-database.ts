/**
 * A fresh PostgreSQL database per test file (or per test), on the server the global setup
 * provided, so files run in parallel and destructive flows (reset, restore --into replace)
 * are safe.
 */
import {randomBytes} from 'node:crypto';
import pg from 'pg';
import {afterAll, beforeAll, inject} from 'vitest';

export type TestDatabase = {
	/** Connection URL of the new database (same server and user as the admin URL). */
	url: string;
	/** `msdb_<label>_<random>` */
	name: string;
	/** Drops the database, disconnecting anyone still connected. Idempotent. */
	drop(): Promise<void>;
};

const MAX_IDENTIFIER_LENGTH = 63;

/** `msdb_<label>_<random>`: lower-case, [a-z0-9_] only, within PostgreSQL's 63-byte limit. */
export function testDatabaseName(label: string): string {
	const suffix = randomBytes(5).toString('hex');
	const room = MAX_IDENTIFIER_LENGTH - 'msdb__'.length - suffix.length;
	const cleaned = label.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, room) || 'test';
	return `msdb_${cleaned}_${suffix}`;
}

async function withAdminClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
	const client = new pg.Client({connectionString: inject('postgresAdminUrl')});
	await client.connect();
	try {
		return await work(client);
	} finally {
		await client.end();
	}
}

/** Creates a new, empty database on the provisioned server and returns its URL. */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
	const name = testDatabaseName(label);
	// The name is [a-z0-9_] by construction; quoting keeps it literal anyway.
	await withAdminClient(async client => client.query(`CREATE DATABASE "${name}"`));
	const url = new URL(inject('postgresAdminUrl'));
	url.pathname = `/${name}`;
	let dropped: Promise<void> | undefined;
	return {
		url: url.toString(),
		name,
		drop: async () => {
			// WITH (FORCE) (PostgreSQL 13+): a pool a test forgot to end must not block cleanup.
			dropped ??= withAdminClient(async client => {
				await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
			});
			return dropped;
		},
	};
}

/** What {@link useTestDatabase} returns: read it inside tests and hooks, not at file level. */
export type TestDatabaseHandle = {
	readonly url: string;
	readonly name: string;
};

/**
 * Registers beforeAll/afterAll hooks that create a database for the current file (or describe
 * block) and drop it afterwards:
 *
 * ```ts
 * const database = useTestDatabase('ledger');
 * it('…', async () => { const pool = new pg.Pool({connectionString: database.url}); … });
 * ```
 */
export function useTestDatabase(label = 'test'): TestDatabaseHandle {
	let database: TestDatabase | undefined;
	beforeAll(async () => {
		database = await createTestDatabase(label);
	});
	afterAll(async () => {
		await database?.drop();
	});
	const current = (): TestDatabase => {
		if (!database) {
			throw new Error('useTestDatabase(): the database exists only inside tests and hooks that run after beforeAll.');
		}

		return database;
	};

	return {
		get url() {
			return current().url;
		},
		get name() {
			return current().name;
		},
	};
}
