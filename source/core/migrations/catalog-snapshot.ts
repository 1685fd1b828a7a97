/**
 * Catalog snapshots: a deterministic, JSON-serialisable description of everything the
 * migrations can create in a database, taken after every apply / rollback (for drift) and once
 * before the first migration (the baseline that reset returns to).
 *
 * Deterministic means: no OIDs, no values that change with data (sequence positions,
 * statistics), no output that depends on the session (see catalog-queries.ts), every list in a
 * stable order. Two databases built by the same DDL give deep-equal snapshots, and a snapshot
 * survives a round trip through JSONB unchanged (no `undefined`, no bigint: large numbers are
 * strings).
 */
import type pg from 'pg';
import {BugError} from '../errors.js';
import {
	CATALOG_QUERIES,
	PIN_SESSION_SETTINGS_SQL,
	RESTORE_SESSION_SETTINGS_SQL,
	SAVE_SESSION_SETTINGS_SQL,
	type CatalogQueryName,
} from './catalog-queries.js';

/** Bumped when the shape changes; a stored snapshot of another version cannot be diffed. */
export const CATALOG_SNAPSHOT_FORMAT_VERSION = 1;

/** `{formatVersion, objects}`: every object keyed by its identity (see {@link catalogObjectIdentity}). */
export type CatalogSnapshot = {
	formatVersion: typeof CATALOG_SNAPSHOT_FORMAT_VERSION;
	/** Keyed by identity, e.g. `table public.users`, `column public.users.email`; keys sorted. */
	objects: Record<string, CatalogObject>;
};

/** A schema outside pg_catalog / information_schema / pg_toast / temp schemas. */
export type SchemaObject = {type: 'schema'; name: string};

/**
 * An installed extension. The version is captured: `ALTER EXTENSION … UPDATE` changes the
 * objects the extension owns (which are deliberately not captured one by one), so it is a real
 * change to report. Drift compares a database with its own earlier snapshot, so servers with
 * different default versions never meet.
 */
export type ExtensionObject = {type: 'extension'; name: string; schema: string; version: string};

export type TableObject = {
	type: 'table';
	schema: string;
	name: string;
	kind: 'table' | 'partitioned table' | 'foreign table';
	persistence: 'permanent' | 'unlogged';
	/** `pg_get_partkeydef` of a partitioned table, e.g. `RANGE (created_at)`. */
	partitionKey: string | null;
	/** Qualified name of the parent when this table is a partition. */
	partitionOf: string | null;
	/** e.g. `FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`, or `DEFAULT`. */
	partitionBound: string | null;
	/** Qualified names of the parents of classic (non-partition) inheritance, in order. */
	inherits: string[];
	rowSecurity: boolean;
	forceRowSecurity: boolean;
	replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
	/** Table access method (`heap`); null for partitioned and foreign tables on most versions. */
	accessMethod: string | null;
	/** Storage parameters (`fillfactor=70`) or foreign-table options, sorted. */
	options: string[];
	foreignServer: string | null;
};

export type ColumnObject = {
	type: 'column';
	schema: string;
	table: string;
	name: string;
	/** 1-based position among live columns. Diffs compare the order, not this number. */
	position: number;
	/** `format_type`, e.g. `character varying(100)`, `public.mood`. */
	dataType: string;
	default: string | null;
	notNull: boolean;
	identity: 'always' | 'by default' | null;
	/** Generation expression and kind, e.g. `(price * quantity) STORED`. */
	generated: string | null;
	/** Qualified collation, only when it differs from the type's default. */
	collation: string | null;
	/** Comes from a parent table (partitions, inheritance): dropped there, not here. */
	inherited: boolean;
};

export type IndexObject = {
	type: 'index';
	schema: string;
	table: string;
	name: string;
	/** `pg_get_indexdef`, the full CREATE INDEX statement. */
	definition: string;
	/** False after a failed CREATE INDEX CONCURRENTLY. */
	valid: boolean;
	/** The primary key / unique / exclusion constraint this index implements, if any. */
	constraint: string | null;
	/** Qualified name of the partitioned index this partition's index is attached to. */
	parentIndex: string | null;
};

export type ConstraintObject = {
	type: 'constraint';
	schema: string;
	table: string;
	name: string;
	kind: 'primary key' | 'unique' | 'foreign key' | 'check' | 'exclusion';
	/** `pg_get_constraintdef`, including DEFERRABLE and NOT VALID. */
	definition: string;
	/** Cloned from a parent (partitions, inheritance): dropped there, not here. */
	inherited: boolean;
};

export type FunctionObject = {
	type: 'function';
	schema: string;
	name: string;
	kind: 'function' | 'procedure' | 'aggregate' | 'window function';
	/** Input argument types, the signature: `integer, text`. */
	argumentTypes: string;
	/** Full argument list with names, modes and defaults. */
	arguments: string;
	/** Return type; null for procedures. */
	result: string | null;
	language: string;
	volatility: 'immutable' | 'stable' | 'volatile';
	securityDefiner: boolean;
	/** sha256 of `pg_get_functiondef` (of the pg_aggregate row for aggregates). */
	definitionHash: string;
};

export type TriggerObject = {
	type: 'trigger';
	schema: string;
	table: string;
	name: string;
	/** `pg_get_triggerdef`. */
	definition: string;
	/** `ALTER TABLE … ENABLE / DISABLE / ENABLE REPLICA / ENABLE ALWAYS TRIGGER`. */
	enabled: 'enabled' | 'disabled' | 'replica' | 'always';
	/** Cloned from a partitioned table's trigger. */
	inherited: boolean;
};

export type ViewObject = {
	type: 'view';
	schema: string;
	name: string;
	kind: 'view' | 'materialized view';
	/** sha256 of `pg_get_viewdef`. */
	definitionHash: string;
	/** `security_barrier=true`, `check_option=local` …, sorted. */
	options: string[];
};

export type SequenceObject = {
	type: 'sequence';
	schema: string;
	name: string;
	dataType: string;
	/** Numbers are strings: bigint does not survive JSON. */
	start: string;
	increment: string;
	minValue: string;
	maxValue: string;
	cache: string;
	cycle: boolean;
	/** The column the sequence belongs to (serial / OWNED BY / identity). */
	ownedBy: {table: string; column: string} | null;
	/** Created by an identity column: goes with the column, cannot be dropped alone. */
	identity: boolean;
};

export type TypeObject = {
	type: 'type';
	schema: string;
	name: string;
	kind: 'enum' | 'composite' | 'range' | 'base';
	/** Enum labels in sort order. */
	labels: string[] | null;
	/** Composite attributes in order. */
	attributes: {name: string; type: string; collation: string | null}[] | null;
	range: {
		subtype: string;
		collation: string | null;
		operatorClass: string | null;
		canonical: string | null;
		subtypeDiff: string | null;
	} | null;
};

export type DomainObject = {
	type: 'domain';
	schema: string;
	name: string;
	baseType: string;
	notNull: boolean;
	default: string | null;
	collation: string | null;
	/** CHECK constraints, sorted by name. */
	constraints: {name: string; definition: string}[];
};

export type PolicyObject = {
	type: 'policy';
	schema: string;
	table: string;
	name: string;
	command: 'ALL' | 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';
	permissive: boolean;
	/** Role names, sorted; `public` for PUBLIC. */
	roles: string[];
	using: string | null;
	withCheck: string | null;
};

/** Any captured object; `type` says which. */
export type CatalogObject =
	| SchemaObject
	| ExtensionObject
	| TableObject
	| ColumnObject
	| IndexObject
	| ConstraintObject
	| FunctionObject
	| TriggerObject
	| ViewObject
	| SequenceObject
	| TypeObject
	| DomainObject
	| PolicyObject;

export type CatalogObjectType = CatalogObject['type'];

export type TakeCatalogSnapshotOptions = {
	/**
	 * msdb's own tables, as `schema.table` (e.g. `public.__ms_migrations`). They, and
	 * everything hanging off them (columns, indexes, constraints, triggers, policies, owned
	 * sequences), are left out: the ledger changes on every run and must survive a reset.
	 */
	excludeTables: string[];
	/**
	 * Leaves out every object whose name (or whose table's name) starts with one of these, e.g.
	 * `['__ms_']` for the trigger function msdb creates next to its ledger. Optional.
	 */
	excludeNamePrefixes?: string[];
};

const PLAIN_IDENTIFIER = /^[a-z_][a-z0-9_$]*$/;

/**
 * An identifier as msdb displays it: bare when it is lower-case and plain, double-quoted
 * otherwise, so `public."My Table"` and `public.my_table` never collide.
 */
export function displayIdentifier(name: string): string {
	return PLAIN_IDENTIFIER.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

/** `schema.name` as msdb displays it. */
export function displayQualifiedName(schema: string, name: string): string {
	return `${displayIdentifier(schema)}.${displayIdentifier(name)}`;
}

/**
 * The stable key of an object: the kind of object, then its qualified name (and signature for
 * functions). Examples: `schema public`, `extension citext`, `table public.users`,
 * `column public.users.email`, `index public.users_email_key`,
 * `constraint public.users.users_email_key`, `function public.f(integer, text)`,
 * `procedure public.p(text)`, `aggregate public.a(integer)`, `trigger public.users.touch`,
 * `view public.v`, `materialized view public.mv`, `sequence public.s`, `type public.mood`,
 * `domain public.email`, `policy public.users.own_rows`.
 */
export function catalogObjectIdentity(object: CatalogObject): string {
	switch (object.type) {
		case 'schema':
			return `schema ${displayIdentifier(object.name)}`;
		case 'extension':
			return `extension ${displayIdentifier(object.name)}`;
		case 'column':
		case 'constraint':
		case 'trigger':
		case 'policy':
			return `${object.type} ${displayQualifiedName(object.schema, object.table)}.${displayIdentifier(object.name)}`;
		case 'function': {
			const prefix = object.kind === 'procedure' || object.kind === 'aggregate' ? object.kind : 'function';
			return `${prefix} ${displayQualifiedName(object.schema, object.name)}(${object.argumentTypes})`;
		}
		case 'view':
			return `${object.kind} ${displayQualifiedName(object.schema, object.name)}`;
		case 'table':
		case 'index':
		case 'sequence':
		case 'type':
		case 'domain':
			return `${object.type} ${displayQualifiedName(object.schema, object.name)}`;
	}
}

/**
 * Reads the catalog of the database `client` is connected to.
 *
 * One round trip: the queries and the setting changes around them go out as one
 * simple-protocol message. Safe inside the caller's open transaction (the snapshot then sees
 * the transaction's own uncommitted DDL, which is what "after this migration" needs); the
 * caller's session settings are restored.
 */
export async function takeCatalogSnapshot(
	client: pg.ClientBase,
	options: TakeCatalogSnapshotOptions,
): Promise<CatalogSnapshot> {
	const queryNames = Object.keys(CATALOG_QUERIES) as CatalogQueryName[];
	const text = [
		SAVE_SESSION_SETTINGS_SQL,
		PIN_SESSION_SETTINGS_SQL,
		...queryNames.map((name) => CATALOG_QUERIES[name]),
		RESTORE_SESSION_SETTINGS_SQL,
	].join(';\n');
	// Without parameters pg uses the simple protocol and returns one result per statement.
	const raw: unknown = await client.query(text);
	if (!Array.isArray(raw) || raw.length !== queryNames.length + 3) {
		throw new BugError('The catalog snapshot query returned an unexpected number of results.');
	}

	const results = raw as pg.QueryResult<Row>[];
	const rowsOf = (name: CatalogQueryName): Row[] => results[queryNames.indexOf(name) + 2]?.rows ?? [];

	// Filtered on raw names, before anything is rendered for display.
	const excluded = new Set(options.excludeTables);
	const isExcluded = (schema: unknown, table: unknown): boolean =>
		typeof schema === 'string' &&
		typeof table === 'string' &&
		(excluded.has(`${schema}.${table}`) || excluded.has(displayQualifiedName(schema, table)));
	// Tables are matched on their own name, what hangs off a table on its table's, sequences on
	// the table that owns them (a ledger with a bigserial id).
	const decode = <T extends CatalogObject>(
		name: CatalogQueryName,
		toObject: (row: Row) => T,
		[schemaKey, tableKey]: [string, string],
	): T[] =>
		rowsOf(name)
			.filter((row) => !isExcluded(row[schemaKey], row[tableKey]))
			.map(toObject);

	const objects: CatalogObject[] = [
		...rowsOf('schemas').map(toSchema),
		...rowsOf('extensions').map(toExtension),
		...decode('tables', toTable, ['schema', 'name']),
		...decode('columns', toColumn, ['schema', 'table']),
		...decode('indexes', toIndex, ['schema', 'table']),
		...decode('constraints', toConstraint, ['schema', 'table']),
		...rowsOf('functions').map(toFunction),
		...decode('triggers', toTrigger, ['schema', 'table']),
		...rowsOf('views').map(toView),
		...decode('sequences', toSequence, ['owner_schema', 'owner_table']),
		...rowsOf('types').map(toType),
		...rowsOf('domains').map(toDomain),
		...decode('policies', toPolicy, ['schema', 'table']),
	].filter((object) => !hasExcludedPrefix(object, options.excludeNamePrefixes ?? []));

	const entries = objects.map((object) => [catalogObjectIdentity(object), object] as const);
	entries.sort(([a], [b]) => compareStrings(a, b));
	const keyed: Record<string, CatalogObject> = {};
	for (const [identity, object] of entries) {
		if (Object.hasOwn(keyed, identity)) {
			throw new BugError(`Two catalog objects share the identity "${identity}".`);
		}

		keyed[identity] = object;
	}

	return {formatVersion: CATALOG_SNAPSHOT_FORMAT_VERSION, objects: keyed};
}

function hasExcludedPrefix(object: CatalogObject, prefixes: string[]): boolean {
	return prefixes.some(
		(prefix) => object.name.startsWith(prefix) || ('table' in object && object.table.startsWith(prefix)),
	);
}

/** Code-point order: the same on every machine, unlike localeCompare. */
export function compareStrings(a: string, b: string): number {
	return a < b ? -1 : a > b ? 1 : 0;
}

// Row decoding. The driver's parsing is trusted for the type of each column (text, bool,
// text[], json); these helpers turn a surprise into a BugError instead of a bad snapshot.

type Row = Record<string, unknown>;

function text(row: Row, key: string): string {
	const value = row[key];
	if (typeof value !== 'string') {
		throw new BugError(`Catalog query column "${key}" is not text.`, {details: {value}});
	}

	return value;
}

function nullableText(row: Row, key: string): string | null {
	return row[key] === null || row[key] === undefined ? null : text(row, key);
}

function flag(row: Row, key: string): boolean {
	const value = row[key];
	if (typeof value !== 'boolean') {
		throw new BugError(`Catalog query column "${key}" is not boolean.`, {details: {value}});
	}

	return value;
}

function integer(row: Row, key: string): number {
	const value = row[key];
	if (typeof value !== 'number' || !Number.isInteger(value)) {
		throw new BugError(`Catalog query column "${key}" is not an integer.`, {details: {value}});
	}

	return value;
}

function textArray(row: Row, key: string): string[] {
	const value = row[key];
	if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
		throw new BugError(`Catalog query column "${key}" is not a text array.`, {details: {value}});
	}

	return value as string[];
}

function sortedTextArray(row: Row, key: string): string[] {
	return textArray(row, key).sort(compareStrings);
}

function jsonRecords(row: Row, key: string): Row[] {
	const value = row[key];
	if (!Array.isArray(value) || !value.every((item) => typeof item === 'object' && item !== null)) {
		throw new BugError(`Catalog query column "${key}" is not a JSON array of objects.`, {details: {value}});
	}

	return value as Row[];
}

function oneOf<T extends string>(row: Row, key: string, map: Record<string, T>): T {
	const value = text(row, key);
	const mapped = map[value];
	if (mapped === undefined) {
		throw new BugError(`Catalog query column "${key}" has the unexpected value "${value}".`);
	}

	return mapped;
}

function toSchema(row: Row): SchemaObject {
	return {type: 'schema', name: text(row, 'name')};
}

function toExtension(row: Row): ExtensionObject {
	return {type: 'extension', name: text(row, 'name'), schema: text(row, 'schema'), version: text(row, 'version')};
}

function toTable(row: Row): TableObject {
	const parents = jsonRecords(row, 'parents').map((parent) =>
		displayQualifiedName(text(parent, 'schema'), text(parent, 'name')),
	);
	const isPartition = flag(row, 'is_partition');
	return {
		type: 'table',
		schema: text(row, 'schema'),
		name: text(row, 'name'),
		kind: oneOf(row, 'kind', {r: 'table', p: 'partitioned table', f: 'foreign table'} as const),
		persistence: oneOf(row, 'persistence', {p: 'permanent', u: 'unlogged'} as const),
		partitionKey: nullableText(row, 'partition_key'),
		partitionOf: isPartition ? (parents[0] ?? null) : null,
		partitionBound: nullableText(row, 'partition_bound'),
		inherits: isPartition ? [] : parents,
		rowSecurity: flag(row, 'row_security'),
		forceRowSecurity: flag(row, 'force_row_security'),
		replicaIdentity: oneOf(row, 'replica_identity', {d: 'default', n: 'nothing', f: 'full', i: 'index'} as const),
		accessMethod: nullableText(row, 'access_method'),
		options: sortedTextArray(row, 'options'),
		foreignServer: nullableText(row, 'foreign_server'),
	};
}

function toColumn(row: Row): ColumnObject {
	const generatedKind = text(row, 'generated_kind');
	const generated = nullableText(row, 'generated');
	return {
		type: 'column',
		schema: text(row, 'schema'),
		table: text(row, 'table'),
		name: text(row, 'name'),
		position: integer(row, 'position'),
		dataType: text(row, 'data_type'),
		default: nullableText(row, 'default'),
		notNull: flag(row, 'not_null'),
		identity: text(row, 'identity') === '' ? null : oneOf(row, 'identity', {a: 'always', d: 'by default'} as const),
		generated: generated === null ? null : `${generated} ${generatedKind === 'v' ? 'VIRTUAL' : 'STORED'}`,
		collation: nullableText(row, 'collation'),
		inherited: flag(row, 'inherited'),
	};
}

function toIndex(row: Row): IndexObject {
	const parentSchema = nullableText(row, 'parent_schema');
	const parentName = nullableText(row, 'parent_name');
	return {
		type: 'index',
		schema: text(row, 'schema'),
		table: text(row, 'table'),
		name: text(row, 'name'),
		definition: text(row, 'definition'),
		valid: flag(row, 'valid'),
		constraint: nullableText(row, 'constraint'),
		parentIndex: parentSchema !== null && parentName !== null ? displayQualifiedName(parentSchema, parentName) : null,
	};
}

function toConstraint(row: Row): ConstraintObject {
	return {
		type: 'constraint',
		schema: text(row, 'schema'),
		table: text(row, 'table'),
		name: text(row, 'name'),
		kind: oneOf(row, 'kind', {
			p: 'primary key',
			u: 'unique',
			f: 'foreign key',
			c: 'check',
			x: 'exclusion',
		} as const),
		definition: text(row, 'definition'),
		inherited: flag(row, 'inherited'),
	};
}

function toFunction(row: Row): FunctionObject {
	return {
		type: 'function',
		schema: text(row, 'schema'),
		name: text(row, 'name'),
		kind: oneOf(row, 'kind', {f: 'function', p: 'procedure', a: 'aggregate', w: 'window function'} as const),
		argumentTypes: text(row, 'argument_types'),
		arguments: text(row, 'arguments'),
		result: nullableText(row, 'result'),
		language: text(row, 'language'),
		volatility: oneOf(row, 'volatility', {i: 'immutable', s: 'stable', v: 'volatile'} as const),
		securityDefiner: flag(row, 'security_definer'),
		definitionHash: text(row, 'definition_hash'),
	};
}

function toTrigger(row: Row): TriggerObject {
	return {
		type: 'trigger',
		schema: text(row, 'schema'),
		table: text(row, 'table'),
		name: text(row, 'name'),
		definition: text(row, 'definition'),
		enabled: oneOf(row, 'enabled', {O: 'enabled', D: 'disabled', R: 'replica', A: 'always'} as const),
		inherited: flag(row, 'inherited'),
	};
}

function toView(row: Row): ViewObject {
	return {
		type: 'view',
		schema: text(row, 'schema'),
		name: text(row, 'name'),
		kind: oneOf(row, 'kind', {v: 'view', m: 'materialized view'} as const),
		definitionHash: text(row, 'definition_hash'),
		options: sortedTextArray(row, 'options'),
	};
}

function toSequence(row: Row): SequenceObject {
	const ownerSchema = nullableText(row, 'owner_schema');
	const ownerTable = nullableText(row, 'owner_table');
	const ownerColumn = nullableText(row, 'owner_column');
	return {
		type: 'sequence',
		schema: text(row, 'schema'),
		name: text(row, 'name'),
		dataType: text(row, 'data_type'),
		start: text(row, 'start'),
		increment: text(row, 'increment'),
		minValue: text(row, 'min_value'),
		maxValue: text(row, 'max_value'),
		cache: text(row, 'cache'),
		cycle: flag(row, 'cycle'),
		ownedBy:
			ownerSchema !== null && ownerTable !== null && ownerColumn !== null
				? {table: displayQualifiedName(ownerSchema, ownerTable), column: ownerColumn}
				: null,
		identity: flag(row, 'identity'),
	};
}

function toType(row: Row): TypeObject {
	const range = row['range'];
	const rangeRow = typeof range === 'object' && range !== null ? (range as Row) : null;
	return {
		type: 'type',
		schema: text(row, 'schema'),
		name: text(row, 'name'),
		kind: oneOf(row, 'kind', {e: 'enum', c: 'composite', r: 'range', b: 'base'} as const),
		labels: row['labels'] === null ? null : textArray(row, 'labels'),
		attributes:
			row['attributes'] === null
				? null
				: jsonRecords(row, 'attributes').map((attribute) => ({
						name: text(attribute, 'name'),
						type: text(attribute, 'type'),
						collation: nullableText(attribute, 'collation'),
					})),
		range:
			rangeRow === null
				? null
				: {
						subtype: text(rangeRow, 'subtype'),
						collation: nullableText(rangeRow, 'collation'),
						operatorClass: nullableText(rangeRow, 'operatorClass'),
						canonical: nullableText(rangeRow, 'canonical'),
						subtypeDiff: nullableText(rangeRow, 'subtypeDiff'),
					},
	};
}

function toDomain(row: Row): DomainObject {
	return {
		type: 'domain',
		schema: text(row, 'schema'),
		name: text(row, 'name'),
		baseType: text(row, 'base_type'),
		notNull: flag(row, 'not_null'),
		default: nullableText(row, 'default'),
		collation: nullableText(row, 'collation'),
		constraints: jsonRecords(row, 'constraints')
			.map((constraint) => ({name: text(constraint, 'name'), definition: text(constraint, 'definition')}))
			.sort((a, b) => compareStrings(a.name, b.name)),
	};
}

function toPolicy(row: Row): PolicyObject {
	return {
		type: 'policy',
		schema: text(row, 'schema'),
		table: text(row, 'table'),
		name: text(row, 'name'),
		command: oneOf(row, 'command', {
			'*': 'ALL',
			r: 'SELECT',
			a: 'INSERT',
			w: 'UPDATE',
			d: 'DELETE',
		} as const),
		permissive: flag(row, 'permissive'),
		roles: sortedTextArray(row, 'roles'),
		using: nullableText(row, 'using'),
		withCheck: nullableText(row, 'with_check'),
	};
}
