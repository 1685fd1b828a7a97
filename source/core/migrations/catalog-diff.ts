/**
 * Compares two catalog snapshots and names every difference the way a DBA would say it:
 * `column public.users.nickname was added (text, nullable)`,
 * `column public.users.age type changed from integer to bigint`,
 * `index agents.agents_name_idx definition changed from CREATE INDEX … to CREATE INDEX …`.
 */
import {
	compareStrings,
	displayQualifiedName,
	type CatalogObject,
	type CatalogObjectType,
	type CatalogSnapshot,
	type ColumnObject,
} from './catalog-snapshot.js';

/** One difference between the expected (stored) and the actual (live) catalog. */
export type CatalogDifference = {
	/** `added`: only in actual; `removed`: only in expected; `changed`: in both, different. */
	change: 'added' | 'removed' | 'changed';
	objectType: CatalogObjectType;
	/** The object's identity, e.g. `column public.users.email`. */
	identity: string;
	/** One line for people, naming the object and what changed. */
	message: string;
	/** Removed: the whole object. Changed: only the attributes that differ. */
	expected?: unknown;
	/** Added: the whole object. Changed: only the attributes that differ. */
	actual?: unknown;
};

type AttributeFormat = {
	/** How the attribute is named in a message. */
	label: string;
	/** Renders a value; absent for opaque values (hashes), which are reported as "changed". */
	format?: (value: unknown) => string;
};

const plain = (value: unknown): string => (value === null ? 'none' : typeof value === 'string' ? value : JSON.stringify(value));
const yesNo = (yes: string, no: string) => (value: unknown) => (value === true ? yes : no);
const list = (value: unknown): string =>
	Array.isArray(value) && value.length > 0 ? `(${value.map((item) => plain(item)).join(', ')})` : 'none';

/**
 * How each attribute reads in a message. Attributes not listed here fall back to their name and
 * a JSON rendering, so a new attribute is never silently ignored by the diff.
 */
const ATTRIBUTE_FORMATS: Record<string, AttributeFormat> = {
	kind: {label: 'kind', format: plain},
	version: {label: 'version', format: plain},
	persistence: {label: 'persistence', format: plain},
	partitionKey: {label: 'partition key', format: plain},
	partitionOf: {label: 'parent table', format: plain},
	partitionBound: {label: 'partition bound', format: plain},
	inherits: {label: 'inherited tables', format: list},
	rowSecurity: {label: 'row level security', format: yesNo('enabled', 'disabled')},
	forceRowSecurity: {label: 'forced row level security', format: yesNo('on', 'off')},
	replicaIdentity: {label: 'replica identity', format: plain},
	accessMethod: {label: 'access method', format: plain},
	options: {label: 'options', format: list},
	foreignServer: {label: 'foreign server', format: plain},
	dataType: {label: 'type', format: plain},
	default: {label: 'default', format: plain},
	notNull: {label: 'nullability', format: yesNo('NOT NULL', 'nullable')},
	identity: {label: 'identity', format: plain},
	generated: {label: 'generation expression', format: plain},
	collation: {label: 'collation', format: plain},
	inherited: {label: 'inheritance', format: yesNo('inherited', 'local')},
	definition: {label: 'definition', format: plain},
	valid: {label: 'validity', format: yesNo('valid', 'INVALID')},
	constraint: {label: 'constraint', format: plain},
	parentIndex: {label: 'parent index', format: plain},
	argumentTypes: {label: 'argument types', format: plain},
	arguments: {label: 'arguments', format: plain},
	result: {label: 'return type', format: plain},
	language: {label: 'language', format: plain},
	volatility: {label: 'volatility', format: (value) => plain(value).toUpperCase()},
	securityDefiner: {label: 'security', format: yesNo('SECURITY DEFINER', 'SECURITY INVOKER')},
	definitionHash: {label: 'definition'},
	enabled: {label: 'trigger state', format: plain},
	start: {label: 'start', format: plain},
	increment: {label: 'increment', format: plain},
	minValue: {label: 'minimum', format: plain},
	maxValue: {label: 'maximum', format: plain},
	cache: {label: 'cache', format: plain},
	cycle: {label: 'cycle', format: yesNo('CYCLE', 'NO CYCLE')},
	ownedBy: {
		label: 'owner',
		format: (value) => {
			const owner = value as {table: string; column: string} | null;
			return owner === null ? 'none' : `${owner.table}.${owner.column}`;
		},
	},
	labels: {label: 'enum labels', format: list},
	attributes: {
		label: 'attributes',
		format: (value) =>
			list(
				(value as {name: string; type: string; collation: string | null}[] | null)?.map(
					(attribute) => `${attribute.name} ${attribute.type}${attribute.collation ? ` COLLATE ${attribute.collation}` : ''}`,
				) ?? [],
			),
	},
	range: {label: 'range definition', format: plain},
	baseType: {label: 'base type', format: plain},
	constraints: {
		label: 'constraints',
		format: (value) =>
			list((value as {name: string; definition: string}[]).map((constraint) => `${constraint.name} ${constraint.definition}`)),
	},
	command: {label: 'command', format: plain},
	permissive: {label: 'mode', format: yesNo('PERMISSIVE', 'RESTRICTIVE')},
	roles: {label: 'roles', format: list},
	using: {label: 'USING expression', format: plain},
	withCheck: {label: 'WITH CHECK expression', format: plain},
	columnOrder: {label: 'column order', format: list},
};

/**
 * Attributes that make up the identity (so never differ between matched objects), and the
 * column position, which is compared per table as a column order instead: dropping one
 * column moves every later one, and that is one change, not one per column.
 */
const NOT_COMPARED = new Set(['type', 'schema', 'name', 'table', 'position']);

/** Sorted like a schema listing: by schema, then table (with its parts), then kind. */
const TYPE_ORDER: CatalogObjectType[] = [
	'extension',
	'schema',
	'type',
	'domain',
	'sequence',
	'table',
	'column',
	'constraint',
	'index',
	'trigger',
	'policy',
	'view',
	'function',
];

/**
 * Every difference between `expected` (the stored snapshot) and `actual` (the live catalog),
 * one per object, sorted by schema, owning table, kind of object and identity. An empty
 * array means no drift.
 */
export function diffCatalogSnapshots(expected: CatalogSnapshot, actual: CatalogSnapshot): CatalogDifference[] {
	const differences: {sortKey: string[]; difference: CatalogDifference}[] = [];
	const identities = new Set([...Object.keys(expected.objects), ...Object.keys(actual.objects)]);
	const expectedColumns = columnsByTable(expected);
	const actualColumns = columnsByTable(actual);
	for (const identity of identities) {
		const before = expected.objects[identity];
		const after = actual.objects[identity];
		let difference: CatalogDifference | undefined;
		if (before === undefined && after !== undefined) {
			difference = {
				change: 'added',
				objectType: after.type,
				identity,
				message: withSummary(`${identity} was added`, after),
				actual: after,
			};
		} else if (before !== undefined && after === undefined) {
			difference = {
				change: 'removed',
				objectType: before.type,
				identity,
				message: withSummary(`${identity} was removed`, before),
				expected: before,
			};
		} else if (before !== undefined && after !== undefined) {
			difference = describeChange(identity, before, after, expectedColumns, actualColumns);
		}

		if (difference) {
			differences.push({sortKey: sortKeyOf((after ?? before) as CatalogObject, identity), difference});
		}
	}

	differences.sort((a, b) => compareKeys(a.sortKey, b.sortKey));
	return differences.map(({difference}) => difference);
}

function describeChange(
	identity: string,
	before: CatalogObject,
	after: CatalogObject,
	expectedColumns: Map<string, string[]>,
	actualColumns: Map<string, string[]>,
): CatalogDifference | undefined {
	const beforeRecord = comparable(before);
	const afterRecord = comparable(after);
	if (before.type === 'table' && after.type === 'table') {
		// Only the relative order of the columns both sides have: an added or dropped column is
		// reported as such, and must not also count as a reordering.
		const beforeOrder = expectedColumns.get(identity) ?? [];
		const afterOrder = actualColumns.get(identity) ?? [];
		const shared = new Set(beforeOrder.filter((name) => afterOrder.includes(name)));
		beforeRecord['columnOrder'] = beforeOrder.filter((name) => shared.has(name));
		afterRecord['columnOrder'] = afterOrder.filter((name) => shared.has(name));
	}

	const changed = [...new Set([...Object.keys(beforeRecord), ...Object.keys(afterRecord)])]
		.filter((key) => canonicalJson(beforeRecord[key]) !== canonicalJson(afterRecord[key]))
		.sort(compareStrings);
	if (changed.length === 0) {
		return undefined;
	}

	const expectedPart = Object.fromEntries(changed.map((key) => [key, beforeRecord[key] ?? null]));
	const actualPart = Object.fromEntries(changed.map((key) => [key, afterRecord[key] ?? null]));
	const parts = changed.map((key) => describeAttribute(key, beforeRecord[key] ?? null, afterRecord[key] ?? null));
	const message =
		parts.length === 1 ? `${identity} ${parts[0] ?? ''}` : `${identity} changed: ${parts.join('; ')}`;
	return {change: 'changed', objectType: after.type, identity, message, expected: expectedPart, actual: actualPart};
}

/** `type changed from integer to bigint`, `definition changed`, `enum labels: added 'x'`. */
function describeAttribute(key: string, before: unknown, after: unknown): string {
	const format = ATTRIBUTE_FORMATS[key] ?? {label: key, format: plain};
	if (key === 'labels' && Array.isArray(before) && Array.isArray(after)) {
		const labelChange = describeLabelChange(before as string[], after as string[]);
		if (labelChange) {
			return `${format.label}: ${labelChange}`;
		}
	}

	if (!format.format) {
		return `${format.label} changed`;
	}

	return `${format.label} changed from ${format.format(before)} to ${format.format(after)}`;
}

/** Enum labels are only ever added in place (PostgreSQL cannot remove them): say which. */
function describeLabelChange(before: string[], after: string[]): string | undefined {
	const added = after.filter((label) => !before.includes(label));
	const keptInOrder = after.filter((label) => before.includes(label));
	if (added.length === 0 || canonicalJson(keptInOrder) !== canonicalJson(before)) {
		return undefined;
	}

	return added
		.map((label) => {
			const index = after.indexOf(label);
			const next = after.slice(index + 1).find((other) => before.includes(other));
			const quoted = `'${label.replaceAll("'", "''")}'`;
			return next === undefined ? `added ${quoted} at the end` : `added ${quoted} before '${next.replaceAll("'", "''")}'`;
		})
		.join(', ');
}

/** A short description for added / removed objects, where one helps. */
function withSummary(prefix: string, object: CatalogObject): string {
	const summary = summaryOf(object);
	return summary ? `${prefix} (${summary})` : prefix;
}

function summaryOf(object: CatalogObject): string | undefined {
	switch (object.type) {
		case 'column':
			return columnSummary(object);
		case 'table':
			return object.partitionOf ? `partition of ${object.partitionOf}` : object.kind === 'table' ? undefined : object.kind;
		case 'index':
		case 'constraint':
		case 'trigger':
			return object.definition;
		case 'extension':
			return `version ${object.version} in schema ${object.schema}`;
		case 'type':
			return object.kind === 'enum' ? `enum ${list(object.labels)}` : object.kind;
		case 'domain':
			return object.baseType;
		case 'sequence':
			return object.ownedBy ? `owned by ${object.ownedBy.table}.${object.ownedBy.column}` : object.dataType;
		case 'policy':
			return `${object.command}, ${object.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'}`;
		default:
			return undefined;
	}
}

/** `text, nullable` / `bigint, NOT NULL, default 0` / `bigint, NOT NULL, identity always`. */
function columnSummary(column: ColumnObject): string {
	const parts = [column.dataType, column.notNull ? 'NOT NULL' : 'nullable'];
	if (column.default !== null) {
		parts.push(`default ${column.default}`);
	}

	if (column.identity !== null) {
		parts.push(`identity ${column.identity}`);
	}

	if (column.generated !== null) {
		parts.push(`generated ${column.generated}`);
	}

	if (column.collation !== null) {
		parts.push(`collation ${column.collation}`);
	}

	return parts.join(', ');
}

function comparable(object: CatalogObject): Record<string, unknown> {
	return Object.fromEntries(Object.entries(object).filter(([key]) => !NOT_COMPARED.has(key)));
}

/** Column names by table identity, in column order. */
function columnsByTable(snapshot: CatalogSnapshot): Map<string, string[]> {
	const columns = new Map<string, ColumnObject[]>();
	for (const object of Object.values(snapshot.objects)) {
		if (object.type === 'column') {
			const table = `table ${displayQualifiedName(object.schema, object.table)}`;
			const list = columns.get(table) ?? [];
			list.push(object);
			columns.set(table, list);
		}
	}

	return new Map(
		[...columns].map(([table, list]) => [table, list.sort((a, b) => a.position - b.position).map((column) => column.name)]),
	);
}

function sortKeyOf(object: CatalogObject, identity: string): string[] {
	const schema = object.type === 'schema' ? object.name : object.type === 'extension' ? '' : object.schema;
	const owner = 'table' in object ? object.table : object.type === 'schema' ? '' : object.name;
	return [schema, owner, String(TYPE_ORDER.indexOf(object.type)).padStart(2, '0'), identity];
}

function compareKeys(a: string[], b: string[]): number {
	for (let index = 0; index < Math.max(a.length, b.length); index++) {
		const order = compareStrings(a[index] ?? '', b[index] ?? '');
		if (order !== 0) {
			return order;
		}
	}

	return 0;
}

/** JSON with sorted keys: snapshots read back from JSONB come with their keys reordered. */
function canonicalJson(value: unknown): string {
	return JSON.stringify(value, (_key, item: unknown) =>
		item !== null && typeof item === 'object' && !Array.isArray(item)
			? Object.fromEntries(Object.entries(item).sort(([a], [b]) => compareStrings(a, b)))
			: item,
	) ?? 'null';
}
