/**
 * The plan behind `msdb migrate reset`: drop everything the migrations made.
 *
 * "What the migrations made" is what the live catalog has and the baseline snapshot (taken
 * when the ledger was created, before any migration ran) does not. Objects that existed in the
 * baseline are kept, even when migrations changed them: a reset cannot un-change a column type
 * or remove an enum label, so those are returned as warnings for the person confirming it.
 */
import {quoteIdentifier} from '../database/connect.js';
import {diffCatalogSnapshots} from './catalog-diff.js';
import {
	compareStrings,
	displayIdentifier,
	displayQualifiedName,
	type CatalogObject,
	type CatalogSnapshot,
	type ColumnObject,
	type ConstraintObject,
	type DomainObject,
	type ExtensionObject,
	type FunctionObject,
	type IndexObject,
	type PolicyObject,
	type SequenceObject,
	type TableObject,
	type TriggerObject,
	type TypeObject,
	type ViewObject,
} from './catalog-snapshot.js';

/** What `migrate reset` will run, and what it means. */
export type ResetPlan = {
	/** DROP / ALTER TABLE … DROP statements, in order; run them all in one transaction. */
	statements: string[];
	/** One line per statement, for people: the object it drops (`table public.events`). */
	objects: string[];
	/**
	 * Baseline objects that migrations changed or removed. Reset leaves them as they are now
	 * (or, when they depend on something dropped, CASCADE takes them too), so the database
	 * will not match the baseline exactly; the confirmation prompt should show these.
	 */
	warnings: string[];
};

type Step = {statement: string; object: string};

/**
 * Plans DROP statements for every object in `live` that is not in `baseline`.
 *
 * Every statement uses IF EXISTS and CASCADE: dependencies between new objects (a view on a
 * new table, a column of a new type) are then never an ordering problem, because whatever an
 * earlier statement took along is skipped later. Objects that go with their owner anyway
 * (everything in a new schema, partitions and indexes of a new table, serial sequences) get no
 * statement of their own, to keep the list a person reads short.
 */
export function planReset(baseline: CatalogSnapshot, live: CatalogSnapshot): ResetPlan {
	const added = Object.entries(live.objects)
		.filter(([identity]) => !Object.hasOwn(baseline.objects, identity))
		.sort(([a], [b]) => compareStrings(a, b))
		.map(([, object]) => object);
	const ofType = <T extends CatalogObject['type']>(type: T) =>
		added.filter((object): object is Extract<CatalogObject, {type: T}> => object.type === type);

	const newSchemas = new Set(ofType('schema').map((schema) => schema.name));
	// Relations (tables, views) that will be dropped whole, by displayed qualified name.
	const newRelations = new Set(
		[...ofType('table'), ...ofType('view')].map((relation) => displayQualifiedName(relation.schema, relation.name)),
	);
	const inNewSchema = (object: {schema: string}): boolean => newSchemas.has(object.schema);
	// Columns, indexes, constraints, triggers and policies of a dropped table go with it.
	const onKeptTable = (object: {schema: string; table: string}): boolean =>
		!inNewSchema(object) && !newRelations.has(displayQualifiedName(object.schema, object.table));
	const droppedColumns = new Set(
		ofType('column')
			.filter((column) => onKeptTable(column) && !column.inherited)
			.map((column) => `${displayQualifiedName(column.schema, column.table)}.${column.name}`),
	);

	const steps: Step[] = [
		...[...newSchemas].map((name) => ({
			statement: `DROP SCHEMA IF EXISTS ${quoteIdentifier(name)} CASCADE`,
			object: `schema ${displayIdentifier(name)} and everything in it`,
		})),
		...ofType('policy').filter(onKeptTable).map(dropPolicy),
		...ofType('trigger')
			.filter((trigger) => onKeptTable(trigger) && !trigger.inherited)
			.map(dropTrigger),
		...ofType('view')
			.filter((view) => !inNewSchema(view))
			.map(dropView),
		// Foreign keys first: a new unique constraint may be what a new foreign key references.
		...ofType('constraint')
			.filter((constraint) => onKeptTable(constraint) && !constraint.inherited)
			.sort((a, b) => Number(b.kind === 'foreign key') - Number(a.kind === 'foreign key'))
			.map(dropConstraint),
		// Indexes behind a constraint go with the constraint; partition indexes with their parent.
		...ofType('index')
			.filter((index) => onKeptTable(index) && index.constraint === null && index.parentIndex === null)
			.map(dropIndex),
		...ofType('column')
			.filter((column) => onKeptTable(column) && !column.inherited)
			.map(dropColumn),
		...ofType('table')
			.filter(
				(table) =>
					!inNewSchema(table) &&
					!(table.partitionOf !== null && newRelations.has(table.partitionOf)) &&
					!table.inherits.some((parent) => newRelations.has(parent)),
			)
			.map((table) => dropTable(table, added)),
		// Serial and identity sequences go with their table or column.
		...ofType('sequence')
			.filter(
				(sequence) =>
					!inNewSchema(sequence) &&
					!sequence.identity &&
					!(
						sequence.ownedBy !== null &&
						(newRelations.has(sequence.ownedBy.table) ||
							droppedColumns.has(`${sequence.ownedBy.table}.${sequence.ownedBy.column}`))
					),
			)
			.map(dropSequence),
		// Aggregates before the functions they are built from.
		...ofType('function')
			.filter((fn) => !inNewSchema(fn))
			.sort((a, b) => Number(b.kind === 'aggregate') - Number(a.kind === 'aggregate'))
			.map(dropFunction),
		...ofType('domain')
			.filter((domain) => !inNewSchema(domain))
			.map(dropDomain),
		...ofType('type')
			.filter((type) => !inNewSchema(type))
			.map(dropType),
		...ofType('extension').map(dropExtension),
	];

	const warnings = diffCatalogSnapshots(baseline, live)
		.filter((difference) => difference.change !== 'added')
		.map((difference) =>
			difference.change === 'removed'
				? `${difference.message}; reset does not re-create it`
				: `${difference.message}; reset does not undo this`,
		);

	return {
		statements: steps.map((step) => step.statement),
		objects: steps.map((step) => step.object),
		warnings,
	};
}

function qualified(schema: string, name: string): string {
	return `${quoteIdentifier(schema)}.${quoteIdentifier(name)}`;
}

function dropPolicy(policy: PolicyObject): Step {
	return {
		statement: `DROP POLICY IF EXISTS ${quoteIdentifier(policy.name)} ON ${qualified(policy.schema, policy.table)}`,
		object: `policy ${displayQualifiedName(policy.schema, policy.table)}.${displayIdentifier(policy.name)}`,
	};
}

function dropTrigger(trigger: TriggerObject): Step {
	return {
		statement: `DROP TRIGGER IF EXISTS ${quoteIdentifier(trigger.name)} ON ${qualified(trigger.schema, trigger.table)} CASCADE`,
		object: `trigger ${displayQualifiedName(trigger.schema, trigger.table)}.${displayIdentifier(trigger.name)}`,
	};
}

function dropView(view: ViewObject): Step {
	const keyword = view.kind === 'materialized view' ? 'MATERIALIZED VIEW' : 'VIEW';
	return {
		statement: `DROP ${keyword} IF EXISTS ${qualified(view.schema, view.name)} CASCADE`,
		object: `${view.kind} ${displayQualifiedName(view.schema, view.name)}`,
	};
}

function dropConstraint(constraint: ConstraintObject): Step {
	return {
		statement: `ALTER TABLE IF EXISTS ${qualified(constraint.schema, constraint.table)} DROP CONSTRAINT IF EXISTS ${quoteIdentifier(constraint.name)} CASCADE`,
		object: `${constraint.kind} constraint ${displayQualifiedName(constraint.schema, constraint.table)}.${displayIdentifier(constraint.name)}`,
	};
}

function dropIndex(index: IndexObject): Step {
	return {
		statement: `DROP INDEX IF EXISTS ${qualified(index.schema, index.name)} CASCADE`,
		object: `index ${displayQualifiedName(index.schema, index.name)} on ${displayQualifiedName(index.schema, index.table)}`,
	};
}

function dropColumn(column: ColumnObject): Step {
	return {
		statement: `ALTER TABLE IF EXISTS ${qualified(column.schema, column.table)} DROP COLUMN IF EXISTS ${quoteIdentifier(column.name)} CASCADE`,
		object: `column ${displayQualifiedName(column.schema, column.table)}.${displayIdentifier(column.name)}`,
	};
}

function dropTable(table: TableObject, added: CatalogObject[]): Step {
	const name = displayQualifiedName(table.schema, table.name);
	const keyword = table.kind === 'foreign table' ? 'FOREIGN TABLE' : 'TABLE';
	const partitions = added.filter((object) => object.type === 'table' && object.partitionOf === name).length;
	return {
		statement: `DROP ${keyword} IF EXISTS ${qualified(table.schema, table.name)} CASCADE`,
		object: `${table.kind} ${name}${partitions > 0 ? ` with ${partitions} partition${partitions === 1 ? '' : 's'}` : ''}`,
	};
}

function dropSequence(sequence: SequenceObject): Step {
	return {
		statement: `DROP SEQUENCE IF EXISTS ${qualified(sequence.schema, sequence.name)} CASCADE`,
		object: `sequence ${displayQualifiedName(sequence.schema, sequence.name)}`,
	};
}

function dropFunction(fn: FunctionObject): Step {
	const keyword = fn.kind === 'procedure' ? 'PROCEDURE' : fn.kind === 'aggregate' ? 'AGGREGATE' : 'FUNCTION';
	// argumentTypes comes from format_type, so it is valid SQL as it stands.
	return {
		statement: `DROP ${keyword} IF EXISTS ${qualified(fn.schema, fn.name)}(${fn.argumentTypes}) CASCADE`,
		object: `${fn.kind} ${displayQualifiedName(fn.schema, fn.name)}(${fn.argumentTypes})`,
	};
}

function dropDomain(domain: DomainObject): Step {
	return {
		statement: `DROP DOMAIN IF EXISTS ${qualified(domain.schema, domain.name)} CASCADE`,
		object: `domain ${displayQualifiedName(domain.schema, domain.name)}`,
	};
}

function dropType(type: TypeObject): Step {
	return {
		statement: `DROP TYPE IF EXISTS ${qualified(type.schema, type.name)} CASCADE`,
		object: `${type.kind} type ${displayQualifiedName(type.schema, type.name)}`,
	};
}

function dropExtension(extension: ExtensionObject): Step {
	return {
		statement: `DROP EXTENSION IF EXISTS ${quoteIdentifier(extension.name)} CASCADE`,
		object: `extension ${extension.name}`,
	};
}
