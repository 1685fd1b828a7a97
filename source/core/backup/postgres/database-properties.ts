import type pg from 'pg';
import {quoteIdentifier, quoteLiteral} from '../../database/connect.js';

/** Settings whose stored value is a list: each element must become its own literal (as pg_dump does). */
const LIST_SETTINGS = new Set(['search_path', 'temp_tablespaces', 'session_preload_libraries', 'local_preload_libraries']);

/**
 * The SQL for a stored setting value. A list (`"$user", public`) quoted whole would become one
 * element named `"$user", public`; so it is split, double quotes removed, and each element quoted.
 */
export function settingValueSql(name: string, value: string): string {
	if (!LIST_SETTINGS.has(name.toLowerCase())) {
		return quoteLiteral(value);
	}

	const elements: string[] = [];
	let index = 0;
	while (index < value.length) {
		while (value[index] === ' ' || value[index] === ',') {
			index++;
		}

		if (index >= value.length) {
			break;
		}

		let element = '';
		if (value[index] === '"') {
			index++;
			while (index < value.length) {
				if (value[index] === '"' && value[index + 1] === '"') {
					element += '"';
					index += 2;
				} else if (value[index] === '"') {
					index++;
					break;
				} else {
					element += value[index];
					index++;
				}
			}
		} else {
			const comma = value.indexOf(',', index);
			const end = comma === -1 ? value.length : comma;
			element = value.slice(index, end).trim();
			index = end;
		}

		elements.push(element);
	}

	return elements.length > 0 ? elements.map(element => quoteLiteral(element)).join(', ') : "''";
}

/** How `CREATE DATABASE` must be told to make a database like another one. */
export type DatabaseTemplate = {encoding: string; collate: string; ctype: string; localeProvider: string | null; locale: string | null};

/**
 * Encoding and locale of an existing database, so a restore into a new database sorts and
 * compares text the same way (a dump does not carry them without --create). The catalogue
 * columns moved between versions (daticulocale in 15–16, datlocale from 17), hence to_jsonb.
 */
export async function readDatabaseTemplate(client: pg.Client, database: string): Promise<DatabaseTemplate> {
	const {rows} = await client.query<{encoding: string; collate: string; ctype: string; row: Record<string, unknown>}>(
		`SELECT pg_catalog.pg_encoding_to_char(d.encoding) AS encoding, d.datcollate AS collate, d.datctype AS ctype, to_jsonb(d) AS row
		 FROM pg_catalog.pg_database d WHERE d.datname = $1`,
		[database],
	);
	const found = rows[0];
	if (!found) {
		return {encoding: 'UTF8', collate: '', ctype: '', localeProvider: null, locale: null};
	}

	const provider = typeof found.row['datlocprovider'] === 'string' ? found.row['datlocprovider'] : null;
	const locale = found.row['datlocale'] ?? found.row['daticulocale'];
	return {encoding: found.encoding, collate: found.collate, ctype: found.ctype, localeProvider: provider, locale: typeof locale === 'string' ? locale : null};
}

/** `CREATE DATABASE` from template0 (a dump restores into an empty database, not a copy of template1's extras). */
export function createDatabaseSql(name: string, template: DatabaseTemplate): string {
	const parts = [`CREATE DATABASE ${quoteIdentifier(name)} TEMPLATE template0 ENCODING ${quoteLiteral(template.encoding)}`];
	if (template.collate) {
		parts.push(`LC_COLLATE ${quoteLiteral(template.collate)}`);
	}

	if (template.ctype) {
		parts.push(`LC_CTYPE ${quoteLiteral(template.ctype)}`);
	}

	if (template.localeProvider === 'i' && template.locale) {
		parts.push(`LOCALE_PROVIDER icu ICU_LOCALE ${quoteLiteral(template.locale)}`);
	} else if (template.localeProvider === 'b' && template.locale) {
		parts.push(`LOCALE_PROVIDER builtin BUILTIN_LOCALE ${quoteLiteral(template.locale)}`);
	}

	return parts.join(' ');
}

/**
 * Gives `to` the database-level properties of `from` that a dump without --create leaves out:
 * owner, connection limit, `ALTER DATABASE … SET` and `ALTER ROLE … IN DATABASE … SET` settings,
 * privileges (GRANT … ON DATABASE) and the comment. Without them the application would meet a
 * different database after `restore --into replace` (another search_path, other roles allowed
 * to connect). Each step is attempted on its own; what could not be copied comes back as
 * warnings for the operator, not as a failed restore.
 */
export async function copyDatabaseProperties(client: pg.Client, from: string, to: string): Promise<string[]> {
	const warnings: string[] = [];
	const target = quoteIdentifier(to);
	const attempt = async (what: string, sql: string) => {
		try {
			await client.query(sql);
		} catch (error) {
			warnings.push(`could not copy ${what} from "${from}" to "${to}": ${(error as Error).message}`);
		}
	};

	const {rows} = await client.query<{owner: string; connlimit: number; comment: string | null; acl: string[] | null}>(
		`SELECT pg_catalog.pg_get_userbyid(d.datdba) AS owner, d.datconnlimit AS connlimit,
		        pg_catalog.shobj_description(d.oid, 'pg_database') AS comment, d.datacl::text[] AS acl
		 FROM pg_catalog.pg_database d WHERE d.datname = $1`,
		[from],
	);
	const source = rows[0];
	if (!source) {
		return [`"${from}" no longer exists: no database properties copied`];
	}

	await attempt('the owner', `ALTER DATABASE ${target} OWNER TO ${quoteIdentifier(source.owner)}`);
	if (source.connlimit !== -1) {
		await attempt('the connection limit', `ALTER DATABASE ${target} CONNECTION LIMIT ${Number(source.connlimit)}`);
	}

	if (source.comment !== null) {
		await attempt('the comment', `COMMENT ON DATABASE ${target} IS ${quoteLiteral(source.comment)}`);
	}

	const settings = await client.query<{role: string | null; setting: string}>(
		`SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(s.setrole) END AS role, unnest(s.setconfig) AS setting
		 FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
		 WHERE d.datname = $1`,
		[from],
	);
	for (const {role, setting} of settings.rows) {
		const equals = setting.indexOf('=');
		const name = setting.slice(0, equals);
		const value = setting.slice(equals + 1);
		const assignment = `SET ${name.split('.').map(part => quoteIdentifier(part)).join('.')} = ${settingValueSql(name, value)}`;
		await attempt(
			`the setting ${name}${role ? ` for role ${role}` : ''}`,
			role ? `ALTER ROLE ${quoteIdentifier(role)} IN DATABASE ${target} ${assignment}` : `ALTER DATABASE ${target} ${assignment}`,
		);
	}

	// NULL means the defaults, which the new database already has.
	if (source.acl !== null) {
		const grants = await client.query<{grantee: string | null; privilege: string; grantable: boolean}>(
			`SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(a.grantee) END AS grantee,
			        a.privilege_type AS privilege, a.is_grantable AS grantable
			 FROM pg_catalog.pg_database d, aclexplode(d.datacl) a WHERE d.datname = $1`,
			[from],
		);
		await attempt('the default privileges of PUBLIC', `REVOKE ALL ON DATABASE ${target} FROM PUBLIC`);
		for (const {grantee, privilege, grantable} of grants.rows) {
			await attempt(
				`${privilege} for ${grantee ?? 'PUBLIC'}`,
				`GRANT ${privilege} ON DATABASE ${target} TO ${grantee ? quoteIdentifier(grantee) : 'PUBLIC'}${grantable ? ' WITH GRANT OPTION' : ''}`,
			);
		}
	}

	return warnings;
}
