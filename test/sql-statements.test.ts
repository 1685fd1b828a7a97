import {describe, expect, it} from 'vitest';
import {lineColumnAt} from '../source/core/migrations/sql-position.js';
import {splitFileStatements, splitSqlStatements} from '../source/core/migrations/sql-statements.js';

describe('splitting SQL with PostgreSQL\'s parser', () => {
	it('keeps semicolons inside dollar quotes, E-strings, comments and BEGIN ATOMIC bodies', async () => {
		const sql = [
			'-- leading comment; with a semicolon',
			'CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$',
			'BEGIN',
			'  RAISE NOTICE \'a;b\'; -- inner; comment',
			'  RETURN 1;',
			'END;',
			'$body$;',
			"SELECT E'it\\'s; fine', 'x;y' /* nested /* block; */ comment; */;",
			'CREATE FUNCTION g(a int) RETURNS int LANGUAGE sql',
			'BEGIN ATOMIC',
			'  SELECT a;',
			'  SELECT a + 1;',
			'END;',
			'CREATE INDEX CONCURRENTLY i ON t (a)',
		].join('\n');
		const statements = await splitSqlStatements(sql);
		expect(statements).toHaveLength(4);
		expect(statements[0]).toMatchObject({line: 2, column: 1});
		expect(statements[0]?.text).toContain('RETURN 1;');
		expect(statements[0]?.text.trim().endsWith('$body$')).toBe(true);
		expect(statements[1]).toMatchObject({line: 8});
		expect(statements[2]).toMatchObject({line: 9});
		expect(statements[2]?.text).toContain('SELECT a + 1;');
		expect(statements[3]).toMatchObject({line: 14, column: 1});
		expect(statements[3]?.text.trim()).toBe('CREATE INDEX CONCURRENTLY i ON t (a)');
	});

	it('maps offsets to characters, not bytes, after non-ASCII text', async () => {
		const sql = "SELECT 'héllo wörld';\nSELECT 2;";
		const statements = await splitSqlStatements(sql);
		expect(statements[1]).toMatchObject({line: 2, column: 1});
		expect(sql.slice(statements[1]!.offset).trim()).toBe('SELECT 2;');
	});

	it('refuses SQL the parser rejects, naming file, line and column', async () => {
		await expect(splitFileStatements('SELECT 1;\n\nSELEC 2;', 'migrations/0003_x.sql')).rejects.toMatchObject({
			code: 'E_MIGRATIONS_INVALID',
			message: expect.stringContaining('migrations/0003_x.sql:3:1'),
		});
	});

	it('computes 1-based lines and columns', () => {
		expect(lineColumnAt('ab\ncd\nef', 0)).toEqual({line: 1, column: 1});
		expect(lineColumnAt('ab\ncd\nef', 4)).toEqual({line: 2, column: 2});
		expect(lineColumnAt('ab\ncd\nef', 6)).toEqual({line: 3, column: 1});
	});
});
