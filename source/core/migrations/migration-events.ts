/**
 * Typed events of the long migration operations. The console, the CLI's stderr progress and
 * the tests all consume these same events (DESIGN.md, "Layers").
 */

export type MigrationDirection = 'up' | 'down';

export type MigrationRef = {version: number; name: string};

export type MigrationEvent =
	| {type: 'lock:waiting'; holder: string | undefined}
	| {type: 'lock:acquired'; waitedMs: number}
	| {type: 'ledger:created'}
	| {type: 'plan'; direction: MigrationDirection; migrations: MigrationRef[]; dryRun: boolean}
	| {type: 'migration:start'; direction: MigrationDirection; version: number; name: string; noTransaction: boolean; index: number; count: number}
	| {type: 'statement:start'; version: number; statement: number; statements: number; line: number}
	| {type: 'migration:retry'; version: number; name: string; attempt: number; delayMs: number; reason: string}
	| {type: 'migration:done'; direction: MigrationDirection; version: number; name: string; executionTimeMs: number}
	| {type: 'migration:failed'; direction: MigrationDirection; version: number; name: string; message: string}
	| {type: 'cleanup'; message: string}
	| {type: 'snapshot:stored'; objects: number};

export type MigrationEventListener = (event: MigrationEvent) => void;

/** A listener that ignores everything, for callers that do not care about progress. */
export const ignoreEvents: MigrationEventListener = () => {};
