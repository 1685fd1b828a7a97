/**
 * The catalog queries behind drift detection and reset, kept together as data.
 *
 * Works on PostgreSQL 13–17 (tested on 15). Every query returns names, never OIDs, and renders
 * expressions with the server's own deparsers (`pg_get_expr`, `pg_get_indexdef` …), so two
 * databases built by the same DDL give identical rows.
 *
 * The deparsers' output depends on session settings: names are schema-qualified only when the
 * schema is not on `search_path`, and constants in defaults or partition bounds are printed with
 * the session's `DateStyle` / `TimeZone`. A snapshot taken from a laptop in another time zone
 * must not look like drift, so {@link CATALOG_SNAPSHOT_SETTINGS} pins them while the queries run.
 */

/**
 * Session settings pinned while the snapshot queries run.
 * `search_path = pg_catalog` makes every non-built-in name come out schema-qualified.
 */
export const CATALOG_SNAPSHOT_SETTINGS = {
	search_path: 'pg_catalog',
	TimeZone: 'UTC',
	DateStyle: 'ISO, MDY',
	IntervalStyle: 'postgres',
	extra_float_digits: '1',
	standard_conforming_strings: 'on',
	quote_all_identifiers: 'off',
} as const satisfies Record<string, string>;

/** Where the caller's own values wait while the settings are pinned (custom placeholders). */
const SAVED_SETTING_PREFIX = 'msdb.catalog_saved_';

const settingNames = Object.keys(CATALOG_SNAPSHOT_SETTINGS);

function literal(value: string): string {
	return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Saves the caller's settings into placeholders. Runs first, in the same simple-protocol
 * round trip as everything else, so it sees the caller's values and not ours.
 */
export const SAVE_SESSION_SETTINGS_SQL = `SELECT ${settingNames
	.map(
		(name) =>
			`set_config(${literal(SAVED_SETTING_PREFIX + name.toLowerCase())}, current_setting(${literal(name)}), false)`,
	)
	.join(', ')}`;

/** Pins {@link CATALOG_SNAPSHOT_SETTINGS}. Session-level, not `SET LOCAL`: see the restore. */
export const PIN_SESSION_SETTINGS_SQL = `SELECT ${Object.entries(CATALOG_SNAPSHOT_SETTINGS)
	.map(([name, value]) => `set_config(${literal(name)}, ${literal(value)}, false)`)
	.join(', ')}`;

/**
 * Puts the caller's settings back. `SET LOCAL` would have been simpler, but when the caller
 * has a transaction open (a snapshot taken before COMMIT of a migration) it would leak our
 * `search_path` into the rest of their transaction. If a query fails, this does not run; the
 * failure aborts the (implicit or the caller's) transaction and that rollback reverts the
 * session-level settings just the same.
 */
export const RESTORE_SESSION_SETTINGS_SQL = `SELECT ${settingNames
	.map(
		(name) =>
			`set_config(${literal(name)}, current_setting(${literal(SAVED_SETTING_PREFIX + name.toLowerCase())}), false)`,
	)
	.join(', ')}`;

/** Schemas msdb looks at: everything the user can create objects in. */
const IN_USER_SCHEMA = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
	AND NOT starts_with(n.nspname, 'pg_temp_')
	AND NOT starts_with(n.nspname, 'pg_toast_temp_')`;

/**
 * Objects created by `CREATE EXTENSION` belong to the extension, not to the migrations: the
 * extension itself is captured instead.
 */
function notExtensionMember(catalog: string, oid: string): string {
	return `NOT EXISTS (SELECT FROM pg_depend d
		WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;
}

/**
 * Objects PostgreSQL creates as part of another (array types, a range's multirange type and
 * constructor functions, tables' row types) come and go with their owner, and cannot be
 * dropped on their own.
 */
function notInternalPart(catalog: string, oid: string): string {
	return `NOT EXISTS (SELECT FROM pg_depend d
		WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'i')`;
}

/** `schema.name` of a collation, or null when it is the type's default. */
function collationUnlessDefault(collationOid: string, typeCollationOid: string): string {
	return `CASE WHEN ${collationOid} <> 0 AND ${collationOid} <> ${typeCollationOid} THEN (
		SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
		FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
		WHERE co.oid = ${collationOid}) END`;
}

function sha256Hex(textExpression: string): string {
	return `encode(sha256(convert_to(${textExpression}, 'UTF8')), 'hex')`;
}

const SCHEMAS_SQL = `SELECT n.nspname AS name
FROM pg_namespace n
WHERE ${IN_USER_SCHEMA} AND ${notExtensionMember('pg_namespace', 'n.oid')}`;

const EXTENSIONS_SQL = `SELECT e.extname AS name, n.nspname AS schema, e.extversion AS version
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE ${IN_USER_SCHEMA}`;

/** Regular, partitioned and foreign tables. Views and sequences have their own queries. */
const TABLES_SQL = `SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind,
	c.relpersistence AS persistence,
	c.relrowsecurity AS row_security, c.relforcerowsecurity AS force_row_security,
	c.relreplident AS replica_identity,
	am.amname AS access_method,
	CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
	CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
	coalesce((SELECT json_agg(json_build_object('schema', pn.nspname, 'name', pc.relname) ORDER BY i.inhseqno)
		FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
		WHERE i.inhrelid = c.oid), '[]'::json) AS parents,
	c.relispartition AS is_partition,
	coalesce(c.reloptions, ft.ftoptions, '{}')::text[] AS options,
	fs.srvname AS foreign_server
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_am am ON am.oid = c.relam
LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
LEFT JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
WHERE c.relkind IN ('r', 'p', 'f') AND ${IN_USER_SCHEMA} AND ${notExtensionMember('pg_class', 'c.oid')}`;

/**
 * Columns of the tables above. `position` counts live columns only, so dropping and re-adding
 * columns elsewhere does not move it.
 */
const COLUMNS_SQL = `SELECT n.nspname AS schema, c.relname AS table, a.attname AS name,
	(row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum))::int AS position,
	format_type(a.atttypid, a.atttypmod) AS data_type,
	CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS default,
	a.attnotnull AS not_null,
	a.attidentity AS identity,
	a.attgenerated AS generated_kind,
	CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS generated,
	${collationUnlessDefault('a.attcollation', 't.typcollation')} AS collation,
	a.attinhcount > 0 AS inherited
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped
	AND c.relkind IN ('r', 'p', 'f') AND ${IN_USER_SCHEMA} AND ${notExtensionMember('pg_class', 'c.oid')}`;

/**
 * Indexes, including those behind constraints (named in `constraint`) and the per-partition
 * copies of a partitioned index (`parent_*`), because both exist in the catalog and can drift.
 * An index always lives in its table's schema.
 */
const INDEXES_SQL = `SELECT n.nspname AS schema, t.relname AS table, c.relname AS name,
	pg_get_indexdef(i.indexrelid) AS definition,
	i.indisvalid AS valid,
	(SELECT k.conname FROM pg_constraint k
		WHERE k.conrelid = i.indrelid AND k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x')) AS constraint,
	pn.nspname AS parent_schema, pc.relname AS parent_name
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_inherits ih ON ih.inhrelid = i.indexrelid
LEFT JOIN pg_class pc ON pc.oid = ih.inhparent
LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace
WHERE t.relkind IN ('r', 'p', 'm', 'f') AND ${IN_USER_SCHEMA} AND ${notExtensionMember('pg_class', 't.oid')}`;

/**
 * Table constraints. NOT NULL is a column attribute here (PostgreSQL 18 also catalogs it as a
 * constraint, 'n'), and constraint triggers ('t') are captured as triggers.
 */
const CONSTRAINTS_SQL = `SELECT n.nspname AS schema, c.relname AS table, k.conname AS name, k.contype AS kind,
	pg_get_constraintdef(k.oid) AS definition,
	(k.conparentid <> 0 OR k.coninhcount > 0) AS inherited
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype IN ('c', 'f', 'p', 'u', 'x')
	AND ${IN_USER_SCHEMA} AND ${notExtensionMember('pg_class', 'c.oid')}`;

/**
 * Functions, procedures and aggregates. The body is captured as a hash of
 * `pg_get_functiondef`, which also covers `BEGIN ATOMIC` bodies (their `prosrc` is empty) and
 * every option (STRICT, COST, SET …). `pg_get_functiondef` refuses aggregates, so those hash
 * their pg_aggregate row instead. `argument_types` lists input types only: that is the
 * signature `DROP FUNCTION` needs, and parameter names are not part of it.
 */
const FUNCTIONS_SQL = `SELECT n.nspname AS schema, p.proname AS name, p.prokind AS kind,
	coalesce((SELECT string_agg(format_type(u.type, NULL), ', ' ORDER BY u.position)
		FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS u(type, position)), '') AS argument_types,
	pg_get_function_arguments(p.oid) AS arguments,
	pg_get_function_result(p.oid) AS result,
	l.lanname AS language,
	p.provolatile AS volatility,
	p.prosecdef AS security_definer,
	CASE WHEN p.prokind = 'a' THEN ${sha256Hex(`(SELECT ROW(
			a.aggkind, a.aggnumdirectargs, a.aggtransfn::regproc, a.aggfinalfn::regproc, a.aggcombinefn::regproc,
			a.aggserialfn::regproc, a.aggdeserialfn::regproc, a.aggmtransfn::regproc, a.aggminvtransfn::regproc,
			a.aggmfinalfn::regproc, a.aggfinalextra, a.aggmfinalextra, a.aggfinalmodify, a.aggmfinalmodify,
			a.aggsortop::regoperator, format_type(a.aggtranstype, NULL), a.aggtransspace,
			format_type(a.aggmtranstype, NULL), a.aggmtransspace, a.agginitval, a.aggminitval,
			p.proparallel, p.proisstrict, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid))::text
		FROM pg_aggregate a WHERE a.aggfnoid = p.oid)`)}
	ELSE ${sha256Hex('pg_get_functiondef(p.oid)')} END AS definition_hash
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE ${IN_USER_SCHEMA} AND ${notExtensionMember('pg_proc', 'p.oid')} AND ${notInternalPart('pg_proc', 'p.oid')}`;

/** User triggers; the internal ones behind foreign keys come and go with their constraint. */
const TRIGGERS_SQL = `SELECT n.nspname AS schema, c.relname AS table, tg.tgname AS name,
	pg_get_triggerdef(tg.oid) AS definition,
	tg.tgenabled AS enabled,
	tg.tgparentid <> 0 AS inherited
FROM pg_trigger tg
JOIN pg_class c ON c.oid = tg.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT tg.tgisinternal AND ${IN_USER_SCHEMA} AND ${notExtensionMember('pg_class', 'c.oid')}`;

const VIEWS_SQL = `SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind,
	${sha256Hex('pg_get_viewdef(c.oid)')} AS definition_hash,
	coalesce(c.reloptions, '{}')::text[] AS options
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND ${IN_USER_SCHEMA} AND ${notExtensionMember('pg_class', 'c.oid')}`;

/**
 * Sequence definitions and their owning column (serial: 'a', identity: 'i'). Not the current
 * value: that is data, and it moves on every insert.
 */
const SEQUENCES_SQL = `SELECT n.nspname AS schema, c.relname AS name,
	format_type(s.seqtypid, NULL) AS data_type,
	s.seqstart::text AS start, s.seqincrement::text AS increment,
	s.seqmin::text AS min_value, s.seqmax::text AS max_value, s.seqcache::text AS cache,
	s.seqcycle AS cycle,
	owner.schema AS owner_schema, owner.table AS owner_table, owner.column AS owner_column,
	coalesce(owner.deptype = 'i', false) AS identity
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN LATERAL (
	SELECT tn.nspname AS schema, t.relname AS table, a.attname AS column, d.deptype
	FROM pg_depend d
	JOIN pg_class t ON t.oid = d.refobjid
	JOIN pg_namespace tn ON tn.oid = t.relnamespace
	JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
	WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
		AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
	LIMIT 1
) owner ON true
WHERE ${IN_USER_SCHEMA} AND ${notExtensionMember('pg_class', 'c.oid')}`;

/**
 * Enum, composite, range and (rare, C-language) base types. Domains have their own query.
 * Enum labels come in their sort order, which is what ADD VALUE … BEFORE changes.
 */
const TYPES_SQL = `SELECT n.nspname AS schema, t.typname AS name, t.typtype AS kind,
	CASE WHEN t.typtype = 'e' THEN ARRAY(
		SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END AS labels,
	CASE WHEN t.typtype = 'c' THEN coalesce((
		SELECT json_agg(json_build_object(
			'name', a.attname,
			'type', format_type(a.atttypid, a.atttypmod),
			'collation', ${collationUnlessDefault('a.attcollation', 'at.typcollation')}) ORDER BY a.attnum)
		FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
		WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '[]'::json) END AS attributes,
	(SELECT json_build_object(
		'subtype', format_type(r.rngsubtype, NULL),
		'collation', ${collationUnlessDefault('r.rngcollation', 'st.typcollation')},
		'operatorClass', (SELECT quote_ident(ocn.nspname) || '.' || quote_ident(oc.opcname)
			FROM pg_opclass oc JOIN pg_namespace ocn ON ocn.oid = oc.opcnamespace WHERE oc.oid = r.rngsubopc),
		'canonical', nullif(r.rngcanonical, 0)::regproc::text,
		'subtypeDiff', nullif(r.rngsubdiff, 0)::regproc::text)
		FROM pg_range r JOIN pg_type st ON st.oid = r.rngsubtype WHERE r.rngtypid = t.oid) AS range
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype IN ('b', 'c', 'e', 'r')
	AND (t.typtype <> 'c' OR EXISTS (SELECT FROM pg_class tc WHERE tc.oid = t.typrelid AND tc.relkind = 'c'))
	AND ${IN_USER_SCHEMA} AND ${notExtensionMember('pg_type', 't.oid')} AND ${notInternalPart('pg_type', 't.oid')}`;

/**
 * Domains. The default is deparsed now (`typdefault` holds text rendered under the
 * search_path of whoever created the domain).
 */
const DOMAINS_SQL = `SELECT n.nspname AS schema, t.typname AS name,
	format_type(t.typbasetype, t.typtypmod) AS base_type,
	t.typnotnull AS not_null,
	pg_get_expr(t.typdefaultbin, 0) AS default,
	${collationUnlessDefault('t.typcollation', 'bt.typcollation')} AS collation,
	coalesce((SELECT json_agg(json_build_object('name', k.conname, 'definition', pg_get_constraintdef(k.oid))
			ORDER BY k.conname)
		FROM pg_constraint k WHERE k.contypid = t.oid AND k.contype <> 'n'), '[]'::json) AS constraints
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
JOIN pg_type bt ON bt.oid = t.typbasetype
WHERE t.typtype = 'd' AND ${IN_USER_SCHEMA} AND ${notExtensionMember('pg_type', 't.oid')}`;

const POLICIES_SQL = `SELECT n.nspname AS schema, c.relname AS table, p.polname AS name,
	p.polcmd AS command, p.polpermissive AS permissive,
	ARRAY(SELECT CASE WHEN r.role = 0 THEN 'public' ELSE pg_get_userbyid(r.role)::text END
		FROM unnest(p.polroles) AS r(role)) AS roles,
	pg_get_expr(p.polqual, p.polrelid) AS using,
	pg_get_expr(p.polwithcheck, p.polrelid) AS with_check
FROM pg_policy p
JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ${IN_USER_SCHEMA} AND ${notExtensionMember('pg_class', 'c.oid')}`;

/**
 * All snapshot queries, by the kind of row they return. They are sent together with the
 * settings statements in one simple-protocol round trip (no parameters, so that is possible):
 * a pg client runs one query at a time, and ten round trips would cost more than the queries.
 */
export const CATALOG_QUERIES = {
	schemas: SCHEMAS_SQL,
	extensions: EXTENSIONS_SQL,
	tables: TABLES_SQL,
	columns: COLUMNS_SQL,
	indexes: INDEXES_SQL,
	constraints: CONSTRAINTS_SQL,
	functions: FUNCTIONS_SQL,
	triggers: TRIGGERS_SQL,
	views: VIEWS_SQL,
	sequences: SEQUENCES_SQL,
	types: TYPES_SQL,
	domains: DOMAINS_SQL,
	policies: POLICIES_SQL,
} as const;

export type CatalogQueryName = keyof typeof CATALOG_QUERIES;
