import {cancelledError, throwIfCancelled} from '../cancellation.js';
import {ActionableError} from '../errors.js';
import {snapshotAfterSteps} from './catalog-tracking.js';
import {checksumSql} from './checksum.js';
import {parseDirectives} from './migration-directives.js';
import {ignoreEvents} from './migration-events.js';
import type {AppliedMigration} from './migration-ledger.js';
import {withMigrationSession} from './migration-session.js';
import {limitsFor, type MigrationSettings} from './migration-settings.js';
import {readValidMigrationSource} from './migration-source.js';
import {runInTransaction, runWithoutTransaction, SqlFailureError, type SessionLimits} from './run-migration-sql.js';
import {splitFileStatements, type SqlStatement} from './sql-statements.js';

export type RollbackOptions = {
	/** Roll back every migration above this version (0: all of them). */
	to?: number | undefined;
	/** Roll back the newest N migrations. Default 1 when `to` is not given. */
	steps?: number | undefined;
	dryRun?: boolean | undefined;
};

export type PlannedRollback = {version: number; name: string; noTransaction: boolean; sql: string};

export type RollbackResult = {
	rolledBack: Array<{version: number; name: string; executionTimeMs: number}>;
	dryRun: boolean;
	plan: PlannedRollback[];
	current: number | null;
};

/**
 * Rolls back applied migrations, newest first, with the rollback SQL stored when each was
 * applied (not today's file: the stored one matches what was applied). A migration in the range
 * without rollback SQL stops the whole rollback before anything runs.
 */
export async function rollbackMigrations(settings: MigrationSettings, options: RollbackOptions = {}): Promise<RollbackResult> {
	const onEvent = settings.onEvent ?? ignoreEvents;
	if (options.to !== undefined && options.steps !== undefined) {
		throw new ActionableError('E_BAD_ARGUMENT', 'Pass either --to or --steps, not both.', {
			nextStep: '--to V rolls back everything above version V; --steps N rolls back the newest N.',
		});
	}

	// Rollback runs the SQL stored in the ledger, but a folder with bad files means the checkout
	// and the database may not be what the operator thinks: refuse, as every command does.
	await readValidMigrationSource(settings);
	return withMigrationSession(settings, {lock: !options.dryRun}, async ({client, ledger}) => {
		const applied = await ledger.readApplied();
		const newestFirst = [...applied].reverse();
		const chosen =
			options.to === undefined
				? newestFirst.slice(0, options.steps ?? 1)
				: newestFirst.filter(row => row.version > (options.to ?? 0));

		const withoutRollback = chosen.filter(row => row.rollbackSql === null);
		if (withoutRollback.length > 0) {
			throw new ActionableError(
				'E_ROLLBACK_MISSING',
				`Cannot roll back: ${withoutRollback.map(row => `${row.version} (${row.name})`).join(', ')} ${
					withoutRollback.length === 1 ? 'was' : 'were'
				} applied without a rollback file. Nothing was rolled back.`,
				{
					nextStep:
						'Roll back to a version above it with --to, or undo it by hand with a new forward migration (msdb migrate create <name>).',
					details: {versions: withoutRollback.map(row => row.version)},
				},
			);
		}

		const plan = await Promise.all(
			chosen.map(async row => {
				const sql = row.rollbackSql ?? '';
				const {directives} = parseDirectives(sql);
				return {
					row,
					sql,
					directives,
					statements: directives.noTransaction ? await splitFileStatements(sql, rollbackLabel(row)) : undefined,
				};
			}),
		);
		const planned = plan.map(({row, sql, directives}) => ({version: row.version, name: row.name, noTransaction: directives.noTransaction, sql}));
		onEvent({type: 'plan', direction: 'down', migrations: planned.map(({version, name}) => ({version, name})), dryRun: Boolean(options.dryRun)});
		if (options.dryRun) {
			return {rolledBack: [], dryRun: true, plan: planned, current: applied.at(-1)?.version ?? null};
		}

		const rolledBack: RollbackResult['rolledBack'] = [];
		const currentVersion = () => applied.filter(row => !rolledBack.some(done => done.version === row.version)).at(-1)?.version ?? null;
		await snapshotAfterSteps({client, ledger, onEvent}, 'after-rollback', {changed: () => rolledBack.length > 0, version: currentVersion}, async () => {
			for (const [index, step] of plan.entries()) {
				const {row} = step;
				throwIfCancelled(
					settings.signal,
					rolledBack.length > 0
						? `Stopped before rolling back ${row.version}_${row.name}; ${rolledBack.map(done => done.version).join(', ')} were rolled back.`
						: 'Nothing was rolled back.',
				);
				onEvent({type: 'migration:start', direction: 'down', version: row.version, name: row.name, noTransaction: step.directives.noTransaction, index, count: plan.length});
				const startedAt = new Date();
				const started = performance.now();
				const limits = limitsFor(settings, step.directives);
				const recordSql = () =>
					ledger.rolledBackRecordSql({version: row.version, name: row.name, checksum: row.checksum, startedAt, durationMs: performance.now() - started});
				try {
					if (step.statements) {
						await runStatements(client, step.statements, step.sql, row, limits, recordSql, statement => {
							onEvent({type: 'statement:start', version: row.version, statement: statement.index, statements: statement.count, line: statement.line});
						});
					} else {
						await runInTransaction(client, {sql: step.sql, file: rollbackLabel(row), limits, recordSql});
					}
				} catch (error) {
					const failure = error instanceof SqlFailureError ? error.failure : undefined;
					await ledger
						.appendHistory({
							action: 'rollback',
							outcome: 'failed',
							version: row.version,
							name: row.name,
							checksum: checksumSql(step.sql),
							startedAt,
							durationMs: performance.now() - started,
							error: failure ? {...failure} : {message: (error as Error).message},
						})
						.catch(() => {});
					onEvent({type: 'migration:failed', direction: 'down', version: row.version, name: row.name, message: (error as Error).message});
					if (settings.signal?.aborted) {
						throw cancelledError(`The rollback of ${row.version}_${row.name} was stopped; it stays applied.`);
					}

					if (failure) {
						throw new ActionableError('E_ROLLBACK_FAILED', `Rollback of ${row.version} (${row.name}) failed; it stays applied:\n${(error as Error).message}`, {
							nextStep: `Line numbers refer to the rollback SQL stored at apply time (SELECT rollback_sql FROM public.__ms_migrations WHERE version = ${row.version}). Fix the cause in the database, or roll back by hand and remove the ledger row.`,
							details: {version: row.version, name: row.name, ...failure},
							cause: error,
						});
					}

					throw error;
				}

				const executionTimeMs = Math.round(performance.now() - started);
				rolledBack.push({version: row.version, name: row.name, executionTimeMs});
				onEvent({type: 'migration:done', direction: 'down', version: row.version, name: row.name, executionTimeMs});
			}
		});

		return {rolledBack, dryRun: false, plan: planned, current: currentVersion()};
	});
}

/** Rollback SQL comes from the ledger, so errors name it by version rather than by a file. */
function rollbackLabel(row: AppliedMigration): string {
	return `rollback of ${row.version}_${row.name} (stored at apply time)`;
}

async function runStatements(
	client: Parameters<typeof runWithoutTransaction>[0],
	statements: SqlStatement[],
	sql: string,
	row: AppliedMigration,
	limits: SessionLimits,
	recordSql: () => string,
	onStatement: (statement: {index: number; count: number; line: number}) => void,
): Promise<void> {
	await runWithoutTransaction(client, {
		statements,
		sql,
		file: rollbackLabel(row),
		limits,
		onStatement: (index, statement) => onStatement({index: index + 1, count: statements.length, line: statement.line}),
		recordSql,
	});
}
