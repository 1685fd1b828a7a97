import {createHash} from 'node:crypto';
import type pg from 'pg';
import {quoteIdentifier} from '../../database/connect.js';
import {listUserTables, type UserTable} from './user-tables.js';

/** Rows fetched per round trip aim at about this many bytes: wide rows mean fewer rows. */
const TARGET_BATCH_BYTES = 8 * 1024 * 1024;
const MAX_BATCH_ROWS = 10_000;
const FIRST_BATCH_ROWS = 1000;

/**
 * Output settings that change how a row prints (`t::text`), pinned so the same rows hash the
 * same from any session, whatever the server's or role's defaults.
 */
const STABLE_OUTPUT_SQL = [
	"SET LOCAL TimeZone = 'UTC'",
	"SET LOCAL DateStyle = 'ISO, YMD'",
	"SET LOCAL IntervalStyle = 'postgres'",
	'SET LOCAL extra_float_digits = 3',
	"SET LOCAL bytea_output = 'hex'",
].join('; ');

async function primaryKeyColumns(client: pg.Client, table: UserTable): Promise<string[]> {
	const {rows} = await client.query<{name: string}>(
		`SELECT a.attname AS name
		 FROM pg_catalog.pg_index i
		 JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		 WHERE i.indrelid = $1::regclass AND i.indisprimary
		 ORDER BY array_position(i.indkey::int2[], a.attnum)`,
		[table.sql],
	);
	return rows.map(row => row.name);
}

async function hashTable(client: pg.Client, table: UserTable): Promise<string> {
	const key = await primaryKeyColumns(client, table);
	// The primary key orders rows uniquely (and through its index, cheaply). Without one, the
	// row's own text does: every type has a text form, not every type has a btree order (json,
	// point), and "C" makes the order independent of the collation.
	const orderBy = key.length > 0 ? key.map(column => `t.${quoteIdentifier(column)}`).join(', ') : 't::text COLLATE "C"';
	await client.query(`DECLARE msdb_table_hash NO SCROLL CURSOR FOR SELECT t::text FROM ONLY ${table.sql} t ORDER BY ${orderBy}`);
	const hash = createHash('sha256');
	let batchRows = FIRST_BATCH_ROWS;
	for (;;) {
		const result = await client.query<[string]>({text: `FETCH FORWARD ${batchRows} FROM msdb_table_hash`, rowMode: 'array'});
		let bytes = 0;
		for (const [text] of result.rows) {
			// Length-prefixed, so no two different row sequences can concatenate to the same bytes.
			bytes += text.length;
			hash.update(`${Buffer.byteLength(text)}:`);
			hash.update(text);
			hash.update('\n');
		}

		if (result.rows.length < batchRows) {
			break;
		}

		const averageRow = Math.max(1, bytes / result.rows.length);
		batchRows = Math.max(1, Math.min(MAX_BATCH_ROWS, Math.floor(TARGET_BATCH_BYTES / averageRow)));
	}

	await client.query('CLOSE msdb_table_hash');
	return hash.digest('hex');
}

/**
 * A sha256 of every user table's rows in a fixed order (primary key, else the row text), keyed
 * `schema.table`: two databases hold the same data exactly when the maps are equal. Rows stream
 * through a cursor in batches of about 8 MB, so memory stays flat however large the table; the
 * whole map is read in one REPEATABLE READ snapshot, so it describes one moment.
 *
 * The client must not be inside a transaction: this opens (and ends) its own.
 */
export async function tableContentHashes(client: pg.Client): Promise<Record<string, string>> {
	await client.query(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ${STABLE_OUTPUT_SQL}`);
	try {
		const hashes: Record<string, string> = {};
		for (const table of await listUserTables(client)) {
			hashes[table.qualified] = await hashTable(client, table);
		}

		await client.query('COMMIT');
		return hashes;
	} catch (error) {
		await client.query('ROLLBACK').catch(() => {});
		throw error;
	}
}
