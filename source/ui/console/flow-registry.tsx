import type {ComponentType} from 'react';
import {BackupFlow} from '../flows/backup-flow.js';
import type {FlowProps} from '../flows/flow-context.js';
import {MigrateFlow} from '../flows/migrate-flow.js';
import {ResetFlow} from '../flows/reset-flow.js';
import {RestoreFlow} from '../flows/restore-flow.js';
import {RollbackFlow} from '../flows/rollback-flow.js';

/** The guided flows the console opens. */
export type FlowName = 'migrate' | 'rollback' | 'reset' | 'backup' | 'restore';

/** A flow as the console offers it: the key that opens it, what the footer calls it, the component. */
export type FlowEntry = {
	name: FlowName;
	key: string;
	label: string;
	/**
	 * Changes a database (the schema or the data): not offered with `--readonly`. A backup only
	 * reads the databases (it writes to the backup target), so it stays available.
	 */
	destructive: boolean;
	component: ComponentType<FlowProps>;
};

/** Every flow, in footer order; a flow is its one line here. */
export const FLOWS: readonly FlowEntry[] = [
	{name: 'migrate', key: 'm', label: 'migrate', destructive: true, component: MigrateFlow},
	{name: 'rollback', key: 'u', label: 'roll back', destructive: true, component: RollbackFlow},
	{name: 'backup', key: 'b', label: 'back up', destructive: false, component: BackupFlow},
	{name: 'restore', key: 'r', label: 'restore', destructive: true, component: RestoreFlow},
	{name: 'reset', key: 'X', label: 'reset', destructive: true, component: ResetFlow},
];

/** The flows offered: with `--readonly`, none that changes a database. */
export function offeredFlows(flows: readonly FlowEntry[], readonly: boolean): FlowEntry[] {
	return flows.filter(flow => !readonly || !flow.destructive);
}
