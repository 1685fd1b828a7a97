import type {MigrationDirection, MigrationEvent} from '../../core/migrations/migration-events.js';

/** One migration of a run, as the last event left it. */
export type MigrationStep = {
	version: number;
	name: string;
	status: 'waiting' | 'running' | 'done' | 'failed';
	executionTimeMs?: number | undefined;
	/** No-transaction files report each statement as it starts. */
	statement?: {index: number; count: number; line: number} | undefined;
	/** Why the file is being retried (it hit lock_timeout and was rolled back). */
	retry?: string | undefined;
};

/** What an apply or rollback run has reported so far. */
export type MigrationProgress = {
	direction: MigrationDirection | undefined;
	/** In the order they run: oldest first for apply, newest first for rollback. */
	steps: MigrationStep[];
	/** Who holds the migration lock while this run waits for it; undefined once acquired. */
	waitingForLock: {holder: string | undefined} | undefined;
	/** Things worth a line of their own: the ledger was created, an invalid index was dropped. */
	notes: string[];
};

export const EMPTY_MIGRATION_PROGRESS: MigrationProgress = {direction: undefined, steps: [], waitingForLock: undefined, notes: []};

/** Folds one core event into the progress the flow draws. Pure: the same events draw the same screen. */
export function foldMigrationEvent(progress: MigrationProgress, event: MigrationEvent): MigrationProgress {
	switch (event.type) {
		case 'lock:waiting': {
			return {...progress, waitingForLock: {holder: event.holder}};
		}

		case 'lock:acquired': {
			return {...progress, waitingForLock: undefined};
		}

		case 'ledger:created': {
			return {...progress, notes: [...progress.notes, 'created the ledger table __ms_migrations (first run on this database)']};
		}

		case 'plan': {
			return {
				...progress,
				direction: event.direction,
				steps: event.migrations.map(({version, name}) => ({version, name, status: 'waiting'})),
			};
		}

		case 'migration:start': {
			return updateStep(progress, event.version, () => ({status: 'running', statement: undefined, retry: undefined}));
		}

		case 'statement:start': {
			return updateStep(progress, event.version, () => ({statement: {index: event.statement, count: event.statements, line: event.line}}));
		}

		case 'migration:retry': {
			return updateStep(progress, event.version, () => ({
				retry: `attempt ${event.attempt} in ${Math.round(event.delayMs / 100) / 10} s: ${event.reason}`,
			}));
		}

		case 'migration:done': {
			return updateStep(progress, event.version, () => ({status: 'done', executionTimeMs: event.executionTimeMs, statement: undefined, retry: undefined}));
		}

		case 'migration:failed': {
			return updateStep(progress, event.version, () => ({status: 'failed', retry: undefined}));
		}

		case 'cleanup': {
			return {...progress, notes: [...progress.notes, event.message]};
		}

		case 'snapshot:stored': {
			return {...progress, notes: [...progress.notes, `catalog snapshot stored for drift checks (${event.objects} objects)`]};
		}
	}
}

function updateStep(progress: MigrationProgress, version: number, change: (step: MigrationStep) => Partial<MigrationStep>): MigrationProgress {
	return {...progress, steps: progress.steps.map(step => (step.version === version ? {...step, ...change(step)} : step))};
}

/** `3_add_users`: how migrations are named on every screen, as in the file names. */
export function migrationLabel(migration: {version: number; name: string}): string {
	return `${migration.version}_${migration.name}`;
}

/** True when the core's plan names exactly the migrations the person reviewed, in that order. */
export function samePlan(reviewed: ReadonlyArray<{version: number}>, planned: ReadonlyArray<{version: number}>): boolean {
	return reviewed.length === planned.length && reviewed.every((migration, index) => migration.version === planned[index]?.version);
}
