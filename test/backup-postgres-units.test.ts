/**
 * The pure parts of the PostgreSQL backup: the version checks, the child environment, the names
 * restores give databases, count comparison and setting quoting. The integration tests (real
 * server, real pg_dump) are in backup-postgres.test.ts.
 */
import {describe, expect, it} from 'vitest';
import type {DatabaseConfig} from '../source/core/config/database-config.js';
import {configForDatabase, maintenanceDatabaseFor} from '../source/core/backup/postgres/database-on-server.js';
import {assertDatabaseName, derivedDatabaseName, MAX_IDENTIFIER_BYTES, nameTimestamp} from '../source/core/backup/postgres/database-names.js';
import {createDatabaseSql, settingValueSql} from '../source/core/backup/postgres/database-properties.js';
import {environmentFromUrl, libpqEnvironment} from '../source/core/backup/postgres/libpq-environment.js';
import {OutputTail} from '../source/core/backup/postgres/output-tail.js';
import {assertPgDumpCanDump, assertPgRestoreCanRead, serverMajorVersion} from '../source/core/backup/postgres/pg-tool-compatibility.js';
import {compareRowCounts} from '../source/core/backup/postgres/row-count-comparison.js';
import {switchBackSql} from '../source/core/backup/postgres/swap-databases.js';
import {registerSecret} from '../source/core/redact.js';
import {thrownActionableError} from './support/thrown-error.js';

describe('pg_dump / pg_restore version checks', () => {
	const pgDump = (version: string) => ({path: '/usr/lib/postgresql/x/bin/pg_dump', version, majorVersion: Number.parseInt(version, 10)});

	it('reads the major version from server_version_num', () => {
		expect(serverMajorVersion(150020)).toBe(15);
		expect(serverMajorVersion(170000)).toBe(17);
		expect(serverMajorVersion(90624)).toBe(9);
	});

	it('refuses a pg_dump older than the server (exit 2, says what to install, nothing started)', () => {
		const error = thrownActionableError(() => assertPgDumpCanDump(pgDump('14.11'), {version: '15.20 (Debian 15.20-0+deb12u1)', versionNum: 150020}));
		expect(error.code).toBe('E_PG_DUMP_TOO_OLD');
		expect(error.exitCode).toBe(2);
		expect(error.message).toContain('pg_dump 14.11');
		expect(error.message).toContain('15.20');
		expect(error.nextStep).toContain('postgresql-client-15');
	});

	it('accepts the same major and newer ones, whatever the minor', () => {
		expect(() => assertPgDumpCanDump(pgDump('15.1'), {version: '15.20', versionNum: 150020})).not.toThrow();
		expect(() => assertPgDumpCanDump(pgDump('17.2'), {version: '15.20', versionNum: 150020})).not.toThrow();
		expect(() => assertPgDumpCanDump(pgDump('15.20'), {version: '9.6.24', versionNum: 90624})).not.toThrow();
	});

	it('refuses a pg_restore older than the pg_dump that wrote the archive', () => {
		const error = thrownActionableError(() => assertPgRestoreCanRead(pgDump('15.20'), {pgDumpVersion: '16.4', key: 'b1/postgres.dump'}));
		expect(error.code).toBe('E_PG_RESTORE_TOO_OLD');
		expect(error.exitCode).toBe(2);
		expect(error.message).toContain('b1/postgres.dump');
		expect(() => assertPgRestoreCanRead(pgDump('16.0'), {pgDumpVersion: '15.20', key: 'k'})).not.toThrow();
	});
});

describe('the environment of pg_dump / pg_restore', () => {
	const urlConfig = (url: string): DatabaseConfig => ({connectionString: url, source: 'DATABASE_URL', display: url});

	it('takes a URL apart into PG* variables, the password included, decoded', () => {
		expect(environmentFromUrl('postgres://app%40corp:s%3Acr%2Fet@db.internal:6432/orders?sslmode=verify-full&sslrootcert=/ca.pem&application_name=x')).toEqual({
			PGHOST: 'db.internal',
			PGPORT: '6432',
			PGUSER: 'app@corp',
			PGPASSWORD: 's:cr/et',
			PGDATABASE: 'orders',
			PGSSLMODE: 'verify-full',
			PGSSLROOTCERT: '/ca.pem',
		});
		expect(environmentFromUrl('postgresql://u@[::1]/d?ssl=true')).toMatchObject({PGHOST: '::1', PGSSLMODE: 'require'});
		expect(environmentFromUrl('postgres://u@%2Fvar%2Frun%2Fpostgresql/d')).toMatchObject({PGHOST: '/var/run/postgresql'});
		expect(environmentFromUrl('postgres:///d?host=/tmp&sslmode=no-verify')).toEqual({PGDATABASE: 'd', PGHOST: '/tmp', PGSSLMODE: 'require'});
	});

	it('lets the URL win over inherited PG* variables and falls back to them for what it leaves out', () => {
		const env = libpqEnvironment(urlConfig('postgres://alice:pw@h1/one'), {
			applicationName: 'msdb:test',
			env: {PGHOST: 'elsewhere', PGDATABASE: 'other', PGSSLMODE: 'require', PATH: '/bin'},
		});
		expect(env).toMatchObject({PGHOST: 'h1', PGDATABASE: 'one', PGUSER: 'alice', PGPASSWORD: 'pw', PGSSLMODE: 'require', PGAPPNAME: 'msdb:test', PATH: '/bin'});
	});

	it('with the PG* variables only, keeps them and defaults the host to localhost as node-postgres does', () => {
		const config: DatabaseConfig = {connectionString: undefined, source: 'PG* environment variables', display: 'postgres://bob@localhost:5432/bob'};
		expect(libpqEnvironment(config, {applicationName: 'a', env: {PGUSER: 'bob', PGPASSWORD: 'x'}})).toEqual({PGUSER: 'bob', PGPASSWORD: 'x', PGHOST: 'localhost', PGAPPNAME: 'a'});
		// Another database on that server: only the name changes, the rest still comes from PG*.
		const other = configForDatabase(config, 'bob_restore');
		expect(other.display).toBe('postgres://bob@localhost:5432/bob_restore');
		expect(libpqEnvironment(other, {applicationName: 'a', env: {PGHOST: 'db', PGUSER: 'bob'}})).toEqual({PGHOST: 'db', PGUSER: 'bob', PGDATABASE: 'bob_restore', PGAPPNAME: 'a'});
	});

	it('points a URL at another database without touching the rest, and never displays the password', () => {
		const other = configForDatabase(urlConfig('postgres://u:secret-pw@h:5/live?sslmode=require&dbname=live'), 'live copy');
		expect(environmentFromUrl(other.connectionString!)).toMatchObject({PGDATABASE: 'live copy', PGPASSWORD: 'secret-pw', PGSSLMODE: 'require', PGHOST: 'h'});
		expect(other.display).not.toContain('secret-pw');
		expect(maintenanceDatabaseFor(['orders'])).toBe('postgres');
		expect(maintenanceDatabaseFor(['postgres'])).toBe('template1');
	});

	it('keeps only the tail of stderr, redacted', () => {
		registerSecret('hunter2-very-secret');
		const tail = new OutputTail(64);
		tail.push(Buffer.from('x'.repeat(500)));
		tail.push(Buffer.from('\npg_dump: error: password hunter2-very-secret rejected for postgres://u:pw@h/d\n'));
		const text = tail.text();
		expect(text.length).toBeLessThanOrEqual(64);
		expect(text).not.toContain('hunter2-very-secret');
		expect(text).toContain('rejected');
	});
});

describe('database names', () => {
	it('stamps names in UTC, lower case, no quoting needed', () => {
		expect(nameTimestamp(new Date('2025-06-14T03:15:09.123Z'))).toBe('20250614_031509');
		expect(derivedDatabaseName('orders', '_restore_20250614_031509')).toBe('orders_restore_20250614_031509');
	});

	it('shortens the base, never the suffix, to fit 63 bytes, without splitting a character', () => {
		const name = derivedDatabaseName('é'.repeat(40), '_pre_restore_20250614_031509');
		expect(Buffer.byteLength(name)).toBeLessThanOrEqual(MAX_IDENTIFIER_BYTES);
		expect(name.endsWith('_pre_restore_20250614_031509')).toBe(true);
		expect(name).not.toContain('\uFFFD');
		expect(() => assertDatabaseName('x'.repeat(64), 'name')).toThrow(/1 to 63 bytes/);
	});

	it('writes a switch-back script that renames in reverse, in one transaction', () => {
		expect(switchBackSql({live: 'orders', aside: 'orders_pre_restore_1', restored: 'orders_restore_1'})).toBe(
			[
				"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN ('orders', 'orders_pre_restore_1') AND pid <> pg_backend_pid();",
				'BEGIN;',
				'ALTER DATABASE "orders" RENAME TO "orders_restore_1";',
				'ALTER DATABASE "orders_pre_restore_1" RENAME TO "orders";',
				'COMMIT;',
			].join('\n'),
		);
	});

	it('creates restore databases from template0 with the live database\'s encoding and locale', () => {
		expect(createDatabaseSql('new db', {encoding: 'UTF8', collate: 'C.UTF-8', ctype: 'C.UTF-8', localeProvider: 'c', locale: null})).toBe(
			"CREATE DATABASE \"new db\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'",
		);
		expect(createDatabaseSql('n', {encoding: 'UTF8', collate: 'en_US.UTF-8', ctype: 'en_US.UTF-8', localeProvider: 'i', locale: 'und'})).toContain("LOCALE_PROVIDER icu ICU_LOCALE 'und'");
	});

	it('quotes list settings element by element, others whole', () => {
		expect(settingValueSql('search_path', '"$user", public, "Odd ""name"""')).toBe("'$user', 'public', 'Odd \"name\"'");
		expect(settingValueSql('work_mem', '64MB')).toBe("'64MB'");
		expect(settingValueSql('statement_timeout', "it's")).toBe("'it''s'");
	});
});

describe('row count comparison', () => {
	it('names every table that is missing, extra or different, sorted', () => {
		const problems = compareRowCounts({'public.a': 3, 'public.b': 5, 'x.gone': 1}, {'public.a': 3, 'public.b': 4, 'public.new': 2});
		expect(problems.map(problem => problem.message)).toEqual([
			'public.b: 4 rows restored, the backup counted 5',
			'public.new: restored with 2 rows, but the backup did not count it',
			'x.gone: missing after the restore (the backup counted 1 rows)',
		]);
		expect(compareRowCounts({'public.a': 0}, {'public.a': 0})).toEqual([]);
	});
});
