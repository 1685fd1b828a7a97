// The minimal migration loop msdb is measured against: one pg client; per file: read, hash,
// BEGIN; file; ledger INSERT; COMMIT. Run in-process by bench/run.js, and as its own process
// (`node bench/reference-loop.js <url> <migrations-dir>`) to compare with the whole msdb process.
import {createHash} from 'node:crypto';
import {readFile, readdir} from 'node:fs/promises';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import pg from 'pg';

export async function referenceLoop(url, migrationsDir) {
	const client = new pg.Client({connectionString: url});
	await client.connect();
	try {
		await client.query(
			'CREATE TABLE reference_ledger (version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), execution_time_ms integer NOT NULL)',
		);
		const files = (await readdir(migrationsDir)).sort();
		for (const file of files) {
			const sql = await readFile(path.join(migrationsDir, file), 'utf8');
			const checksum = createHash('sha256').update(sql).digest('hex');
			const started = performance.now();
			await client.query('BEGIN');
			await client.query(sql);
			await client.query('INSERT INTO reference_ledger (version, name, checksum, execution_time_ms) VALUES ($1, $2, $3, $4)', [
				Number.parseInt(file, 10),
				file,
				checksum,
				Math.round(performance.now() - started),
			]);
			await client.query('COMMIT');
		}
	} finally {
		await client.end();
	}
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	await referenceLoop(process.argv[2], process.argv[3]);
}
