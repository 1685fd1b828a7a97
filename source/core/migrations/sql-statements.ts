import type * as LibPgQuery from 'libpg-query';
import {ActionableError} from '../errors.js';
import {lineColumnAt, skipWhitespaceAndComments} from './sql-position.js';

/** One statement of a file, with where it starts in the file (for error messages). */
export type SqlStatement = {
	/** The statement as sent to the server, without its terminating semicolon. */
	text: string;
	/** 0-based character offset of `text` in the file. */
	offset: number;
	/** Where the statement's first keyword is, 1-based. */
	line: number;
	column: number;
};

/** A file that PostgreSQL's own parser rejects. */
export class SqlSyntaxError extends Error {
	constructor(
		message: string,
		/** 0-based character offset in the text, when the parser gave one. */
		readonly offset: number | undefined,
	) {
		super(message);
	}
}

type Parser = typeof LibPgQuery;
let parserPromise: Promise<Parser> | undefined;

/** libpg-query is PostgreSQL's real parser compiled to WASM; loaded only when a file needs it. */
async function loadParser(): Promise<Parser> {
	parserPromise ??= import('libpg-query').then(async parser => {
		await parser.loadModule();
		return parser;
	});
	return parserPromise;
}

/**
 * Splits SQL into statements with PostgreSQL's own parser, so dollar quotes with tags, `E''`
 * strings, nested comments and `BEGIN ATOMIC` bodies are handled exactly as the server would.
 * Never `split(';')`.
 */
export async function splitSqlStatements(sql: string): Promise<SqlStatement[]> {
	const parser = await loadParser();
	let result;
	try {
		result = await parser.parse(sql);
	} catch (error) {
		const details = (error as {sqlDetails?: {cursorPosition?: number; message?: string}}).sqlDetails;
		throw new SqlSyntaxError(details?.message ?? (error as Error).message, details?.cursorPosition);
	}

	// The parser reports byte offsets into the UTF-8 text; files may hold non-ASCII characters.
	const bytes = Buffer.from(sql, 'utf8');
	const statements: SqlStatement[] = [];
	for (const entry of result.stmts ?? []) {
		const byteStart = entry.stmt_location ?? 0;
		const byteEnd = entry.stmt_len ? byteStart + entry.stmt_len : bytes.length;
		const charStart = bytes.subarray(0, byteStart).toString('utf8').length;
		const raw = bytes.subarray(byteStart, byteEnd).toString('utf8');
		const firstToken = skipWhitespaceAndComments(sql, charStart);
		const text = raw.trimEnd();
		if (skipWhitespaceAndComments(text, 0) >= text.length) {
			continue;
		}

		statements.push({text, offset: charStart, ...lineColumnAt(sql, firstToken)});
	}

	return statements;
}

/**
 * Splits a file for running outside a transaction, refusing (exit 2, naming file and line)
 * when PostgreSQL's parser rejects it: better to find out before the first statement runs.
 */
export async function splitFileStatements(sql: string, file: string): Promise<SqlStatement[]> {
	try {
		return await splitSqlStatements(sql);
	} catch (error) {
		if (error instanceof SqlSyntaxError) {
			const where = error.offset === undefined ? undefined : lineColumnAt(sql, error.offset);
			const location = where ? `${file}:${where.line}:${where.column}` : file;
			throw new ActionableError('E_MIGRATIONS_INVALID', `${location}: PostgreSQL's parser rejects this file: ${error.message}`, {
				nextStep: 'Fix the SQL at that position; nothing was run.',
				details: {file, ...(where ?? {})},
			});
		}

		throw error;
	}
}
