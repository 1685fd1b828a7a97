import type pg from 'pg';
import {quoteLiteral} from '../database/connect.js';
import {lineColumnAt} from './sql-position.js';
import {splitSqlStatements, type SqlStatement} from './sql-statements.js';

/**
 * Running one migration (or rollback) file against the server.
 *
 * Transactional files are sent whole through the simple query protocol inside one transaction
 * (DESIGN.md): the server parses them exactly as psql would, and a failure anywhere rolls back
 * everything in the file together with its ledger row. `-- msdb:no-transaction` files run one
 * statement at a time, split by PostgreSQL's own parser.
 */

export type SessionLimits = {
	/** PostgreSQL duration for lock_timeout while the file runs. */
	lockTimeout: string;
	/** PostgreSQL duration for statement_timeout while the file runs. */
	statementTimeout: string;
};

/** Where and why a file failed, mapped back to the file's own lines. */
export type SqlFailure = {
	file: string;
	line: number | undefined;
	column: number | undefined;
	sqlState: string | undefined;
	serverMessage: string;
	detail: string | undefined;
	hint: string | undefined;
	where: string | undefined;
	/** 1-based index of the failing statement when known. */
	statement: number | undefined;
	/** Statements of a no-transaction file that completed before the failure (and stay applied). */
	statementsCompleted: number | undefined;
};

export class SqlFailureError extends Error {
	constructor(readonly failure: SqlFailure) {
		super(formatSqlFailure(failure));
	}
}

/** `file:line:column` where the line is known, else the file: the CLI and the console print the same place. */
export function sqlFailureLocation(failure: Pick<SqlFailure, 'file' | 'line' | 'column'>): string {
	return failure.line === undefined ? failure.file : `${failure.file}:${failure.line}:${failure.column ?? 1}`;
}

/** `file:line:column: SQLSTATE 42P01: relation "x" does not exist` */
export function formatSqlFailure(failure: SqlFailure): string {
	const location = sqlFailureLocation(failure);
	const state = failure.sqlState ? `SQLSTATE ${failure.sqlState}: ` : '';
	const lines = [`${location}: ${state}${failure.serverMessage}`];
	if (failure.detail) {
		lines.push(`  detail: ${failure.detail}`);
	}

	if (failure.hint) {
		lines.push(`  hint: ${failure.hint}`);
	}

	if (failure.where) {
		lines.push(`  context: ${failure.where}`);
	}

	return lines.join('\n');
}

function limitStatements(limits: SessionLimits, scope: 'LOCAL' | 'SESSION'): string {
	const set = scope === 'LOCAL' ? 'SET LOCAL' : 'SET';
	return `${set} lock_timeout = ${quoteLiteral(limits.lockTimeout)}; ${set} statement_timeout = ${quoteLiteral(limits.statementTimeout)}`;
}

/** How a transactional file is run. */
export type TransactionalRun = {
	sql: string;
	file: string;
	limits: SessionLimits;
	/** The ledger write, one statement, run in the same transaction after the file. */
	recordSql: () => string;
	/**
	 * Set when the caller holds one transaction open for several files (`--single-transaction`):
	 * the files that ran before this one in it, so a failure can be replayed from the same state.
	 */
	sharedTransaction?: {earlierFiles: string[]};
};

/**
 * Runs a file in a transaction with its ledger write, in two messages: `BEGIN; SET LOCAL …;` +
 * the file, then the record + COMMIT + `RESET ALL` (which keeps a file's plain
 * `SET search_path …` from leaking into the next file). The file still travels whole, unsplit;
 * server error positions are shifted back by the prefix. Two round trips per file, half the
 * minimal BEGIN / file / INSERT / COMMIT loop. In a shared transaction the caller begins and
 * commits; a failure aborts the caller's transaction, which the caller rolls back.
 */
export async function runInTransaction(client: pg.ClientBase, input: TransactionalRun): Promise<void> {
	const shared = input.sharedTransaction !== undefined;
	// The newline ends a `--` comment on the prefix's last line before the file starts.
	const prefix = `${shared ? '' : 'BEGIN; '}${limitStatements(input.limits, 'LOCAL')};\n`;
	try {
		try {
			await client.query(prefix + input.sql);
		} catch (error) {
			throw await describeTransactionalFailure(client, input, shiftPosition(error, prefix.length));
		}

		await client.query(shared ? input.recordSql() : `${input.recordSql()}; COMMIT; RESET ALL`);
	} catch (error) {
		if (!shared) {
			await client.query('ROLLBACK; RESET ALL').catch(() => {});
		}

		throw error;
	}
}

/** Makes a server error position relative to the file rather than to prefix + file. */
function shiftPosition(error: unknown, prefixLength: number): unknown {
	if (isDatabaseError(error) && error.position) {
		const position = Number(error.position) - prefixLength;
		error.position = position >= 1 ? String(position) : undefined;
	}

	return error;
}

/**
 * Runs a no-transaction file statement by statement (autocommit), then `recordSql()` (one
 * statement, so atomic on its own). Statements that completed before a failure stay applied;
 * that is the nature of such files, so the failure says how many did.
 */
export async function runWithoutTransaction(
	client: pg.ClientBase,
	input: {
		statements: SqlStatement[];
		sql: string;
		file: string;
		limits: SessionLimits;
		onStatement: (index: number, statement: SqlStatement) => void;
		recordSql: () => string;
	},
): Promise<void> {
	await client.query(limitStatements(input.limits, 'SESSION'));
	try {
		for (const [index, statement] of input.statements.entries()) {
			input.onStatement(index, statement);
			try {
				await client.query(statement.text);
			} catch (error) {
				throw new SqlFailureError(
					failureFromError(error, input.file, input.sql, statement.offset, statement.text, {
						statement: index + 1,
						statementsCompleted: index,
						fallback: statement,
					}),
				);
			}
		}

		await client.query(input.recordSql());
	} finally {
		await client.query('RESET ALL').catch(() => {});
	}
}

/**
 * A failure in a whole-file transaction. When the server gave a position, it maps straight back
 * into the file. Runtime errors (a constraint violation, a division by zero) carry none; then the
 * file is replayed statement by statement inside a transaction that is always rolled back (after
 * the files that ran before it in a shared transaction), to find which statement fails, so the
 * message can still name the line.
 */
async function describeTransactionalFailure(client: pg.ClientBase, input: TransactionalRun, error: unknown): Promise<unknown> {
	if (!isDatabaseError(error)) {
		return error;
	}

	await client.query('ROLLBACK').catch(() => {});
	if (error.position) {
		return new SqlFailureError(failureFromError(error, input.file, input.sql, 0, input.sql, {}));
	}

	const earlierFiles = input.sharedTransaction?.earlierFiles ?? [];
	const located = isReplayable(error.code)
		? await locateFailingStatement(client, input.sql, input.limits, earlierFiles).catch(() => undefined)
		: undefined;
	if (located) {
		return new SqlFailureError(
			failureFromError(error, input.file, input.sql, located.statement.offset, located.statement.text, {
				statement: located.index + 1,
				fallback: located.statement,
			}),
		);
	}

	return new SqlFailureError(failureFromError(error, input.file, input.sql, 0, input.sql, {}));
}

/**
 * SQLSTATE classes whose errors would not happen again the same way on a replay, or would cost
 * as much again: a cancel or statement_timeout (57), lock and deadlock failures (55, 40), lost
 * connections (08), exhausted resources (53), system errors (58, XX).
 */
const NOT_REPLAYABLE_CLASSES = new Set(['08', '40', '53', '55', '57', '58', 'XX']);

function isReplayable(sqlState: string | undefined): boolean {
	return sqlState !== undefined && !NOT_REPLAYABLE_CLASSES.has(sqlState.slice(0, 2));
}

async function locateFailingStatement(
	client: pg.ClientBase,
	sql: string,
	limits: SessionLimits,
	earlierFiles: string[],
): Promise<{index: number; statement: SqlStatement} | undefined> {
	const statements = await splitSqlStatements(sql);
	if (statements.length === 1 && statements[0]) {
		return {index: 0, statement: statements[0]};
	}

	await client.query(`BEGIN; ${limitStatements(limits, 'LOCAL')}`);
	try {
		// Files that ran earlier in the same (rolled back) transaction set up the state this one saw.
		for (const earlier of earlierFiles) {
			await client.query(earlier);
		}

		for (const [index, statement] of statements.entries()) {
			try {
				await client.query(statement.text);
			} catch {
				return {index, statement};
			}
		}

		return undefined;
	} finally {
		await client.query('ROLLBACK').catch(() => {});
	}
}

type DatabaseErrorLike = Error & {
	code?: string;
	position?: string;
	detail?: string;
	hint?: string;
	where?: string;
};

export function isDatabaseError(error: unknown): error is DatabaseErrorLike {
	return error instanceof Error && typeof (error as DatabaseErrorLike).code === 'string' && 'severity' in error;
}

function failureFromError(
	error: unknown,
	file: string,
	fileSql: string,
	textOffset: number,
	text: string,
	extra: {statement?: number; statementsCompleted?: number; fallback?: SqlStatement},
): SqlFailure {
	const databaseError = isDatabaseError(error) ? error : undefined;
	let line = extra.fallback?.line;
	let column = extra.fallback?.column;
	const position = databaseError?.position ? Number(databaseError.position) : undefined;
	if (position !== undefined && Number.isFinite(position) && position >= 1 && position <= text.length + 1) {
		({line, column} = lineColumnAt(fileSql, textOffset + position - 1));
	}

	return {
		file,
		line,
		column,
		sqlState: databaseError?.code,
		serverMessage: (error as Error).message,
		detail: databaseError?.detail,
		hint: databaseError?.hint,
		where: databaseError?.where,
		statement: extra.statement,
		statementsCompleted: extra.statementsCompleted,
	};
}
