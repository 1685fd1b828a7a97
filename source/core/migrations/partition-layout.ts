import {displayQualifiedName, type CatalogObject, type CatalogSnapshot} from './catalog-snapshot.js';

/**
 * Range partitions (a month, a day) come and go while the application runs:
 * `messages.ensure_partitions()` creates them, retention detaches them. They are data layout,
 * not schema, so drift leaves them out; otherwise every new month would be reported as a dozen
 * differences. What a partition inherits from its parent (columns, constraints, indexes,
 * triggers) is compared on the parent. Whatever was created on one range partition alone (an
 * extra index, a CHECK, a trigger) is still compared, and so are list, hash and default
 * partitions, which are structure.
 */
export function withoutRollingPartitions(snapshot: CatalogSnapshot): CatalogSnapshot {
	const tables = new Map<string, Extract<CatalogObject, {type: 'table'}>>();
	for (const object of Object.values(snapshot.objects)) {
		if (object.type === 'table') {
			tables.set(displayQualifiedName(object.schema, object.name), object);
		}
	}

	const rolling = new Set<string>();
	for (const [name, table] of tables) {
		const parent = table.partitionOf ? tables.get(table.partitionOf) : undefined;
		if (parent?.partitionKey?.startsWith('RANGE') && table.partitionBound !== 'DEFAULT') {
			rolling.add(name);
		}
	}

	if (rolling.size === 0) {
		return snapshot;
	}

	const objects: Record<string, CatalogObject> = {};
	for (const [identity, object] of Object.entries(snapshot.objects)) {
		if (!isRollingLayout(object, rolling)) {
			objects[identity] = object;
		}
	}

	return {...snapshot, objects};
}

function isRollingLayout(object: CatalogObject, rolling: Set<string>): boolean {
	switch (object.type) {
		case 'table': {
			return rolling.has(displayQualifiedName(object.schema, object.name));
		}

		case 'column':
		case 'constraint':
		case 'trigger': {
			return object.inherited && rolling.has(displayQualifiedName(object.schema, object.table));
		}

		case 'index': {
			return object.parentIndex !== null && rolling.has(displayQualifiedName(object.schema, object.table));
		}

		default: {
			return false;
		}
	}
}
