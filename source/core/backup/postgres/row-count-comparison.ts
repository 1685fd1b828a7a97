/** One difference between the row counts a manifest recorded and those a restore produced. */
export type RowCountProblem = {table: string; expected: number | null; actual: number | null; message: string};

/**
 * Compares the counts a backup recorded (in its own snapshot) with those found after restoring
 * it: a missing table, an extra one, or a different count each make one problem, named by
 * `schema.table`, sorted so reports are stable.
 */
export function compareRowCounts(expected: Record<string, number>, actual: Record<string, number>): RowCountProblem[] {
	const problems: RowCountProblem[] = [];
	const tables = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
	for (const table of tables) {
		const want = Object.hasOwn(expected, table) ? (expected[table] ?? null) : null;
		const got = Object.hasOwn(actual, table) ? (actual[table] ?? null) : null;
		if (want === got) {
			continue;
		}

		const message =
			got === null
				? `${table}: missing after the restore (the backup counted ${want} rows)`
				: want === null
					? `${table}: restored with ${got} rows, but the backup did not count it`
					: `${table}: ${got} rows restored, the backup counted ${want}`;
		problems.push({table, expected: want, actual: got, message});
	}

	return problems;
}
