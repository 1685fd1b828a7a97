import {cancelledError, throwIfCancelled} from '../cancellation.js';
import {ActionableError} from '../errors.js';
import {quoteLiteral} from '../database/connect.js';
import {snapshotLiveCatalog} from './catalog-tracking.js';
import type {CatalogSnapshot} from './catalog-snapshot.js';
import {ignoreEvents} from './migration-events.js';
import {DROP_LEDGER_SQL} from './migration-ledger.js';
import {withMigrationSession} from './migration-session.js';
import type {MigrationSettings} from './migration-settings.js';
import {planReset} from './reset-plan.js';

export type ResetOptions = {
	/** Must equal the database name exactly. */
	confirm?: string | undefined;
	/** Needed when MSDB_ENV=production. */
	allowProduction?: boolean | undefined;
	/** Show what would be dropped; change nothing (no confirmation needed). */
	dryRun?: boolean | undefined;
	environment?: string | undefined;
};

export type ResetResult = {
	database: string;
	dryRun: boolean;
	/** Human list of the objects dropped (or that would be). */
	dropped: string[];
	statements: string[];
	/** Versions that were recorded by `baseline`: their objects predate msdb and are kept. */
	keptBaselined: number[];
	/** Changes migrations made to objects that predate them, which a reset cannot undo. */
	warnings: string[];
};

/**
 * Drops everything the migrations created (the live catalog minus the baseline snapshot taken
 * before the first migration) plus the ledger and snapshots, in one transaction. The history is
 * kept and records the reset. Refused without the exact database name, and in production unless
 * explicitly allowed.
 */
export async function resetDatabase(settings: MigrationSettings, options: ResetOptions): Promise<ResetResult> {
	const onEvent = settings.onEvent ?? ignoreEvents;
	const environment = options.environment ?? process.env.MSDB_ENV;
	if (environment === 'production' && !options.allowProduction && !options.dryRun) {
		throw new ActionableError('E_PRODUCTION_REFUSED', 'Refusing to reset: MSDB_ENV is "production". Nothing was dropped.', {
			nextStep: 'If you really mean to wipe a production database, add --allow-production (and take a backup first).',
		});
	}

	return withMigrationSession(settings, {lock: !options.dryRun, createLedger: false}, async ({client, ledger}) => {
		const database = (await client.query<{name: string}>('SELECT current_database() AS name')).rows[0]?.name ?? '';
		if (!options.dryRun) {
			if (options.confirm === undefined) {
				throw new ActionableError('E_CONFIRMATION_REQUIRED', `Reset drops everything the migrations created in "${database}". Nothing was dropped.`, {
					nextStep: `Review it with \`msdb migrate reset --dry-run\`, then confirm with \`msdb migrate reset --confirm ${database}\`.`,
					details: {database},
				});
			}

			if (options.confirm !== database) {
				throw new ActionableError(
					'E_CONFIRMATION_REQUIRED',
					`--confirm "${options.confirm}" does not match the database name "${database}". Nothing was dropped.`,
					{nextStep: `Type the name of the database being reset exactly: --confirm ${database}`, details: {database}},
				);
			}
		}

		if (!(await ledger.exists())) {
			return {database, dryRun: Boolean(options.dryRun), dropped: [], statements: [], keptBaselined: [], warnings: []};
		}

		const baseline = await ledger.baselineSnapshot<CatalogSnapshot>();
		if (!baseline) {
			throw new ActionableError('E_RESET_FAILED', `The ledger in "${database}" has no baseline snapshot, so msdb cannot tell what the migrations created. Nothing was dropped.`, {
				nextStep: 'Roll back with `msdb migrate rollback --to 0` instead, or drop and re-create the database.',
			});
		}

		const applied = await ledger.readApplied();
		const keptBaselined = applied.filter(row => row.method === 'baseline').map(row => row.version);
		// Reading the catalog waits on locks other sessions hold on the objects; a cancel that
		// interrupts that wait is a cancel (nothing dropped), not a statement the server refused.
		const live = await snapshotLiveCatalog(client).catch((error: unknown) => {
			throw settings.signal?.aborted ? cancelledError(`The reset of "${database}" was stopped before it began; nothing was dropped.`) : error;
		});
		const plan = planReset(baseline.snapshot, live);
		if (options.dryRun) {
			return {database, dryRun: true, dropped: plan.objects, statements: plan.statements, keptBaselined, warnings: plan.warnings};
		}

		throwIfCancelled(settings.signal, 'Nothing was dropped.');
		const startedAt = new Date();
		const started = performance.now();
		try {
			await client.query(
				`BEGIN; SET LOCAL lock_timeout = ${quoteLiteral(settings.limits.lockTimeout)}; SET LOCAL statement_timeout = ${quoteLiteral(settings.limits.statementTimeout)}`,
			);
			for (const statement of plan.statements) {
				await client.query(statement);
			}

			await client.query(DROP_LEDGER_SQL);
			await ledger.appendHistory({
				action: 'reset',
				outcome: 'succeeded',
				startedAt,
				durationMs: performance.now() - started,
				details: {database, dropped: plan.objects, appliedVersions: applied.map(row => row.version), keptBaselined},
			});
			await client.query('COMMIT');
		} catch (error) {
			await client.query('ROLLBACK').catch(() => {});
			await ledger
				.appendHistory({action: 'reset', outcome: 'failed', startedAt, durationMs: performance.now() - started, error: {message: (error as Error).message}})
				.catch(() => {});
			if (settings.signal?.aborted) {
				throw cancelledError(`The reset of "${database}" was rolled back; nothing was dropped.`);
			}

			throw new ActionableError('E_RESET_FAILED', `Reset of "${database}" failed and was rolled back; nothing was dropped: ${(error as Error).message}`, {
				nextStep: 'Check for sessions holding locks on these objects (pg_stat_activity), then try again.',
				cause: error,
			});
		}

		onEvent({type: 'cleanup', message: `dropped ${plan.objects.length} object(s) and the ledger`});
		return {database, dryRun: false, dropped: plan.objects, statements: plan.statements, keptBaselined, warnings: plan.warnings};
	});
}
