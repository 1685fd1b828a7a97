import pg from 'pg';

/** One query on a fresh connection: tests check the database the CLI left behind. */
export async function query<T extends pg.QueryResultRow = any>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
	const client = new pg.Client({connectionString: url});
	await client.connect();
	try {
		return (await client.query<T>(sql, values)).rows;
	} finally {
		await client.end();
	}
}

/** True when the relation exists. */
export async function relationExists(url: string, name: string): Promise<boolean> {
	const [row] = await query<{exists: boolean}>(url, 'SELECT to_regclass($1) IS NOT NULL AS exists', [name]);
	return row?.exists ?? false;
}
