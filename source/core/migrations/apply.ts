import {setTimeout as sleep} from 'node:timers/promises';
import type pg from 'pg';
import {cancelledError, throwIfCancelled} from '../cancellation.js';
import {ActionableError} from '../errors.js';
import {snapshotAfterSteps, storeCatalogSnapshot} from './catalog-tracking.js';
import {compareWithLedger, type LedgerComparison} from './ledger-comparison.js';
import {ignoreEvents, type MigrationEventListener} from './migration-events.js';
import {appliedRecordFor, type MigrationLedger} from './migration-ledger.js';
import {withMigrationSession} from './migration-session.js';
import {limitsFor, type MigrationSettings} from './migration-settings.js';
import {readValidMigrationSource, type MigrationFile} from './migration-source.js';
import {runInTransaction, runWithoutTransaction, SqlFailureError} from './run-migration-sql.js';
import {splitFileStatements, type SqlStatement} from './sql-statements.js';

export type ApplyOptions = {
	/** Apply up to and including this version. */
	target?: number | undefined;
	/** Show the plan and SQL; change nothing. */
	dryRun?: boolean | undefined;
	/** Allow pending versions lower than the highest applied one (after a branch merge). */
	allowOutOfOrder?: boolean | undefined;
	/** Apply every pending file in one transaction: all of them, or none. */
	singleTransaction?: boolean | undefined;
};

export type PlannedMigration = {
	version: number;
	name: string;
	file: string;
	noTransaction: boolean;
	sql: string;
};

export type ApplyResult = {
	applied: Array<{version: number; name: string; executionTimeMs: number}>;
	dryRun: boolean;
	/** What would run (dry run) or what was planned. */
	plan: PlannedMigration[];
	/** Highest applied version after the run. */
	current: number | null;
};

/** SQLSTATE lock_not_available: the file hit lock_timeout. Safe to retry: it was rolled back. */
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Applies pending migrations, oldest first, each in its own transaction (or statement by
 * statement for no-transaction files), under the migration lock. Refuses before running anything
 * when files are invalid, an applied file changed or went missing, or a pending file is older
 * than the newest applied one (unless allowed).
 */
export async function applyMigrations(settings: MigrationSettings, options: ApplyOptions = {}): Promise<ApplyResult> {
	const onEvent = settings.onEvent ?? ignoreEvents;
	const source = await readValidMigrationSource(settings);
	if (options.target !== undefined && !source.migrations.some(file => file.version === options.target)) {
		throw new ActionableError('E_TARGET_INVALID', `--target ${options.target} is not the version of any migration in ${source.migrationsDir}.`, {
			nextStep: 'Run `msdb migrate status` to see the versions, and pass one of them.',
			details: {target: options.target},
		});
	}

	// Parse every no-transaction file now: a file the parser rejects must stop the run before
	// anything in it, or in the files before it, has run.
	const statementsByVersion = new Map<number, SqlStatement[]>();
	for (const file of source.migrations) {
		if (file.directives.noTransaction) {
			statementsByVersion.set(file.version, await splitFileStatements(file.sql, file.path));
		}
	}

	return withMigrationSession(settings, {lock: !options.dryRun}, async ({client, ledger}) => {
		const comparison = compareWithLedger(source.migrations, await ledger.readApplied());
		const plan = comparison.pending.filter(file => options.target === undefined || file.version <= options.target);
		refuseUnsafeApply(comparison, plan, options);

		const planned = plan.map(file => ({
			version: file.version,
			name: file.name,
			file: file.path,
			noTransaction: file.directives.noTransaction,
			sql: file.sql,
		}));
		onEvent({type: 'plan', direction: 'up', migrations: planned.map(({version, name}) => ({version, name})), dryRun: Boolean(options.dryRun)});
		if (options.dryRun) {
			return {applied: [], dryRun: true, plan: planned, current: comparison.current};
		}

		const versionsBefore = comparison.applied.map(row => row.version);
		if (options.singleTransaction && plan.length > 0) {
			const applied = await applyInOneTransaction(client, ledger, settings, plan, onEvent);
			return {applied, dryRun: false, plan: planned, current: Math.max(...versionsBefore, ...applied.map(row => row.version))};
		}

		const applied: ApplyResult['applied'] = [];
		const currentVersion = () => {
			const versions = [...versionsBefore, ...applied.map(row => row.version)];
			return versions.length > 0 ? Math.max(...versions) : null;
		};

		await snapshotAfterSteps({client, ledger, onEvent}, 'after-apply', {changed: () => applied.length > 0, version: currentVersion}, async () => {
			for (const [index, file] of plan.entries()) {
				throwIfCancelled(
					settings.signal,
					applied.length > 0
						? `Stopped before ${file.version}_${file.name}; ${applied.map(row => row.version).join(', ')} were applied in this run and stay applied.`
						: 'Nothing was applied.',
				);
				onEvent({
					type: 'migration:start',
					direction: 'up',
					version: file.version,
					name: file.name,
					noTransaction: file.directives.noTransaction,
					index,
					count: plan.length,
				});
				const executionTimeMs = await applyOne(client, ledger, settings, file, statementsByVersion.get(file.version), onEvent);
				applied.push({version: file.version, name: file.name, executionTimeMs});
				onEvent({type: 'migration:done', direction: 'up', version: file.version, name: file.name, executionTimeMs});
			}
		});

		return {applied, dryRun: false, plan: planned, current: currentVersion()};
	});
}

function refuseUnsafeApply(comparison: LedgerComparison, plan: MigrationFile[], options: ApplyOptions): void {
	if (comparison.missingFiles.length > 0) {
		const rows = comparison.missingFiles;
		throw new ActionableError(
			'E_APPLIED_FILE_MISSING',
			`${rows.length === 1 ? 'An applied migration has' : `${rows.length} applied migrations have`} no file any more: ${rows
				.map(row => `${row.version} (${row.name})`)
				.join(', ')}. Nothing was run.`,
			{
				nextStep:
					'Restore the file from version control (its applied SQL is in the ledger: SELECT up_sql FROM public.__ms_migrations WHERE version = …), then run `msdb migrate validate`.',
				details: {versions: rows.map(row => row.version)},
			},
		);
	}

	if (comparison.checksumMismatches.length > 0) {
		const mismatches = comparison.checksumMismatches;
		throw new ActionableError(
			'E_CHECKSUM_MISMATCH',
			`${mismatches.length === 1 ? 'An applied migration was' : `${mismatches.length} applied migrations were`} edited after being applied: ${mismatches
				.map(({file}) => `${file.version} (${file.path})`)
				.join(', ')}. Nothing was run.`,
			{
				nextStep:
					'Restore the file (see the change with `msdb migrate validate`), or, if the change is intended and already reflected in the database, record it with `msdb migrate accept <version>`.',
				details: {versions: mismatches.map(({file}) => file.version)},
			},
		);
	}

	const noTransaction = options.singleTransaction ? plan.filter(file => file.directives.noTransaction) : [];
	if (noTransaction.length > 0) {
		throw new ActionableError(
			'E_BAD_ARGUMENT',
			`--single-transaction cannot include ${noTransaction.map(file => file.path).join(', ')}: ${noTransaction.length === 1 ? 'it runs' : 'they run'} outside a transaction (-- msdb:no-transaction). Nothing was run.`,
			{
				nextStep: `Apply up to the version before it with --single-transaction --target, then the rest without --single-transaction.`,
				details: {versions: noTransaction.map(file => file.version)},
			},
		);
	}

	const outOfOrder = options.allowOutOfOrder ? [] : plan.filter(file => comparison.current !== null && file.version < comparison.current);
	if (outOfOrder.length > 0) {
		throw new ActionableError(
			'E_OUT_OF_ORDER',
			`Pending ${outOfOrder.length === 1 ? 'migration' : 'migrations'} ${outOfOrder
				.map(file => `${file.version} (${file.path})`)
				.join(', ')} ${outOfOrder.length === 1 ? 'is' : 'are'} older than the newest applied version ${comparison.current}. Nothing was run.`,
			{
				nextStep:
					'If applying it after the newer ones is safe (usually true after merging branches), run again with --allow-out-of-order; otherwise renumber the file after the newest version.',
				details: {versions: outOfOrder.map(file => file.version), current: comparison.current},
			},
		);
	}
}

/**
 * `--single-transaction`: every file, its ledger row and the catalog snapshot in one transaction,
 * so a failure anywhere leaves the database exactly as it was before the run.
 */
async function applyInOneTransaction(
	client: pg.ClientBase,
	ledger: MigrationLedger,
	settings: MigrationSettings,
	plan: MigrationFile[],
	onEvent: MigrationEventListener,
): Promise<ApplyResult['applied']> {
	const applied: ApplyResult['applied'] = [];
	const startedAt = new Date();
	const started = performance.now();
	let current: MigrationFile | undefined;
	await client.query('BEGIN');
	try {
		for (const [index, file] of plan.entries()) {
			throwIfCancelled(settings.signal, 'Nothing from this run was kept: its single transaction was rolled back.');
			current = file;
			onEvent({type: 'migration:start', direction: 'up', version: file.version, name: file.name, noTransaction: false, index, count: plan.length});
			const fileStartedAt = new Date();
			const fileStarted = performance.now();
			let executionTimeMs = 0;
			await runInTransaction(client, {
				sql: file.sql,
				file: file.path,
				limits: limitsFor(settings, file.directives),
				sharedTransaction: {earlierFiles: plan.slice(0, index).map(earlier => earlier.sql)},
				recordSql: () =>
					ledger.appliedRecordSql(
						appliedRecordFor(file, {method: 'apply', executionTimeMs: (executionTimeMs = performance.now() - fileStarted), startedAt: fileStartedAt, details: {singleTransaction: true}}),
					),
			});
			applied.push({version: file.version, name: file.name, executionTimeMs: Math.round(executionTimeMs)});
			onEvent({type: 'migration:done', direction: 'up', version: file.version, name: file.name, executionTimeMs: Math.round(executionTimeMs)});
		}

		const objects = await storeCatalogSnapshot(client, ledger, 'after-apply', applied.at(-1)?.version ?? null);
		await client.query('COMMIT; RESET ALL');
		onEvent({type: 'snapshot:stored', objects});
		return applied;
	} catch (error) {
		await client.query('ROLLBACK; RESET ALL').catch(() => {});
		const failure = error instanceof SqlFailureError ? error.failure : undefined;
		const file = current;
		await ledger
			.appendHistory({
				action: 'apply',
				outcome: 'failed',
				version: file?.version,
				name: file?.name,
				checksum: file?.checksum,
				startedAt,
				durationMs: performance.now() - started,
				error: failure ? {...failure} : {message: (error as Error).message},
				details: {singleTransaction: true, rolledBackWithIt: applied.map(row => row.version)},
			})
			.catch(() => {});
		if (file) {
			onEvent({type: 'migration:failed', direction: 'up', version: file.version, name: file.name, message: (error as Error).message});
		}

		if (settings.signal?.aborted) {
			throw cancelledError('Nothing from this run was kept: its single transaction was rolled back.');
		}

		if (failure && file) {
			throw new ActionableError(
				'E_MIGRATION_FAILED',
				`Migration ${file.version} (${file.name}) failed; with --single-transaction nothing from this run was kept${applied.length > 0 ? ` (also undone: ${applied.map(row => row.version).join(', ')})` : ''}:\n${(error as Error).message}`,
				{
					nextStep: 'Fix the SQL at the position above and run `msdb migrate apply --single-transaction` again; the database is as it was before this run.',
					details: {version: file.version, name: file.name, ...failure},
					cause: error,
				},
			);
		}

		throw error;
	}
}

async function applyOne(
	client: pg.ClientBase,
	ledger: MigrationLedger,
	settings: MigrationSettings,
	file: MigrationFile,
	statements: SqlStatement[] | undefined,
	onEvent: MigrationEventListener,
): Promise<number> {
	const limits = limitsFor(settings, file.directives);
	const recordSql = (executionTimeMs: number, startedAt: Date) => ledger.appliedRecordSql(appliedRecordFor(file, {method: 'apply', executionTimeMs, startedAt}));

	for (let attempt = 1; ; attempt++) {
		const startedAt = new Date();
		const started = performance.now();
		let executionTimeMs = 0;
		const invalidIndexesBefore = statements ? await listInvalidIndexes(client) : undefined;
		try {
			if (statements) {
				await runWithoutTransaction(client, {
					statements,
					sql: file.sql,
					file: file.path,
					limits,
					onStatement(index, statement) {
						onEvent({type: 'statement:start', version: file.version, statement: index + 1, statements: statements.length, line: statement.line});
					},
					recordSql: () => recordSql((executionTimeMs = performance.now() - started), startedAt),
				});
			} else {
				await runInTransaction(client, {
					sql: file.sql,
					file: file.path,
					limits,
					recordSql: () => recordSql((executionTimeMs = performance.now() - started), startedAt),
				});
			}

			return Math.round(executionTimeMs);
		} catch (error) {
			const durationMs = performance.now() - started;
			if (invalidIndexesBefore) {
				await dropNewInvalidIndexes(client, invalidIndexesBefore, onEvent);
			}

			const failure = error instanceof SqlFailureError ? error.failure : undefined;
			const cancelled = settings.signal?.aborted ?? false;
			const retryable = failure?.sqlState === LOCK_NOT_AVAILABLE && !statements && attempt <= settings.lockRetries && !cancelled;
			await ledger
				.appendHistory({
					action: 'apply',
					outcome: 'failed',
					version: file.version,
					name: file.name,
					checksum: file.checksum,
					startedAt,
					durationMs,
					error: failure ? {...failure} : {message: (error as Error).message},
					details: {attempt, willRetry: retryable, cancelled},
				})
				.catch(() => {});
			if (retryable) {
				const delayMs = 1000 * 2 ** (attempt - 1);
				onEvent({type: 'migration:retry', version: file.version, name: file.name, attempt, delayMs, reason: failure.serverMessage});
				await sleep(delayMs);
				continue;
			}

			onEvent({type: 'migration:failed', direction: 'up', version: file.version, name: file.name, message: (error as Error).message});
			if (cancelled) {
				throw cancelledError(
					failure?.statementsCompleted
						? `${file.path} was stopped after ${failure.statementsCompleted} of its statements, which stay applied (no-transaction file); it is not recorded as applied.`
						: `${file.path} was stopped and rolled back; nothing from it was kept.`,
					'Migrations applied before it stay applied. Run `msdb migrate apply` again to continue.',
				);
			}

			if (failure) {
				throw new ActionableError('E_MIGRATION_FAILED', `Migration ${file.version} (${file.name}) failed and was not applied:\n${error instanceof Error ? error.message : ''}`, {
					nextStep: failure.statementsCompleted
						? `This is a no-transaction file: its first ${failure.statementsCompleted} statement(s) ran and stay applied. Fix the file so it can be re-run (IF NOT EXISTS helps), then run \`msdb migrate apply\` again.`
						: 'Nothing from this file was kept. Fix the SQL at the position above and run `msdb migrate apply` again; earlier migrations stay applied.',
					details: {version: file.version, name: file.name, ...failure},
					cause: error,
				});
			}

			throw error;
		}
	}
}

async function listInvalidIndexes(client: pg.ClientBase): Promise<Set<string>> {
	// regclass text is already quoted (and qualified when outside search_path): usable in DROP.
	const result = await client.query<{name: string}>('SELECT indexrelid::regclass::text AS name FROM pg_index WHERE NOT indisvalid');
	return new Set(result.rows.map(row => row.name));
}

/**
 * A failed `CREATE INDEX CONCURRENTLY` leaves an INVALID index behind, and a re-run with
 * `IF NOT EXISTS` would then skip it silently. Drop the ones this file left, so a fixed file
 * can simply be applied again.
 */
async function dropNewInvalidIndexes(client: pg.ClientBase, before: Set<string>, onEvent: MigrationEventListener): Promise<void> {
	const after = await listInvalidIndexes(client).catch(() => new Set<string>());
	for (const name of after) {
		if (before.has(name)) {
			continue;
		}

		try {
			await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
			onEvent({type: 'cleanup', message: `dropped the invalid index ${name} left by the failed statement`});
		} catch (error) {
			onEvent({type: 'cleanup', message: `could not drop the invalid index ${name}: ${(error as Error).message}; drop it by hand`});
		}
	}
}
