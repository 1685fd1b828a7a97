import {ActionableError} from '../errors.js';
import {storeCatalogSnapshot} from './catalog-tracking.js';
import {appliedRecordFor} from './migration-ledger.js';
import {withMigrationSession} from './migration-session.js';
import type {MigrationSettings} from './migration-settings.js';
import {readValidMigrationSource} from './migration-source.js';

export type BaselineResult = {version: number; recorded: Array<{version: number; name: string}>};

/**
 * Marks an existing database as being at `version` without running anything: every migration up
 * to it is recorded with method "baseline" (its rollback stored, so it can still be rolled back).
 * Only for a database msdb has not migrated yet.
 */
export async function baselineMigrations(settings: MigrationSettings, version: number): Promise<BaselineResult> {
	const source = await readValidMigrationSource(settings);
	if (!source.migrations.some(file => file.version === version)) {
		throw new ActionableError('E_TARGET_INVALID', `${version} is not the version of any migration in ${source.migrationsDir}.`, {
			nextStep: 'Pass the version of the newest migration the database already has (see `msdb migrate status`).',
			details: {version},
		});
	}

	return withMigrationSession(settings, {lock: true}, async ({client, ledger}) => {
		const applied = await ledger.readApplied();
		if (applied.length > 0) {
			throw new ActionableError(
				'E_LEDGER_NOT_EMPTY',
				`This database already has ${applied.length} migration(s) in its ledger (newest ${applied.at(-1)?.version}); baseline is only for a database msdb has not migrated.`,
				{nextStep: 'Use `msdb migrate apply` to move forward, or `msdb migrate status` to see where it is.'},
			);
		}

		const files = source.migrations.filter(file => file.version <= version);
		const startedAt = new Date();
		await client.query('BEGIN');
		try {
			for (const file of files) {
				await ledger.recordApplied(appliedRecordFor(file, {method: 'baseline', executionTimeMs: 0, startedAt, details: {baselineVersion: version}}));
			}

			await client.query('COMMIT');
		} catch (error) {
			await client.query('ROLLBACK').catch(() => {});
			throw error;
		}

		await storeCatalogSnapshot(client, ledger, 'after-baseline', version);
		return {version, recorded: files.map(file => ({version: file.version, name: file.name}))};
	});
}
