import {ActionableError} from '../errors.js';
import {LEDGER_TABLE} from './migration-ledger.js';
import {withMigrationSession} from './migration-session.js';
import type {MigrationSettings} from './migration-settings.js';
import {readValidMigrationSource} from './migration-source.js';
import {storeCatalogSnapshot} from './catalog-tracking.js';

export type AcceptResult = {
	version: number;
	name: string;
	previousChecksum: string;
	checksum: string;
	rollbackUpdated: boolean;
};

/**
 * The explicit, recorded way to take a changed file as the truth: stores the file's current
 * checksum and SQL (and its current rollback) in the ledger without running anything, and
 * appends who did it, with both checksums, to the history.
 */
export async function acceptMigration(settings: MigrationSettings, version: number): Promise<AcceptResult> {
	const source = await readValidMigrationSource(settings);
	const file = source.migrations.find(candidate => candidate.version === version);
	if (!file) {
		throw new ActionableError('E_MIGRATION_NOT_FOUND', `There is no migration file with version ${version} in ${source.migrationsDir}.`, {
			nextStep: 'Accept records the current content of an existing file; restore the file first.',
			details: {version},
		});
	}

	return withMigrationSession(settings, {lock: true}, async ({client, ledger}) => {
		const applied = (await ledger.readApplied()).find(row => row.version === version);
		if (!applied) {
			throw new ActionableError('E_MIGRATION_NOT_FOUND', `Migration ${version} is not applied, so there is nothing to accept.`, {
				nextStep: 'Pending migrations run with `msdb migrate apply`; accept is only for applied files that changed.',
				details: {version},
			});
		}

		if (applied.name !== file.name) {
			throw new ActionableError('E_BAD_ARGUMENT', `Migration ${version} was applied as "${applied.name}" but the file is ${file.path}.`, {
				nextStep: 'Rename the file back; accept does not re-point a version at a different migration.',
				details: {version},
			});
		}

		const rollbackSql = file.rollback?.sql ?? applied.rollbackSql;
		const rollbackUpdated = rollbackSql !== applied.rollbackSql;
		if (applied.checksum === file.checksum && !rollbackUpdated) {
			throw new ActionableError('E_BAD_ARGUMENT', `Migration ${version} (${file.path}) and its rollback match the ledger; there is nothing to accept.`, {
				nextStep: 'Run `msdb migrate validate` to see what differs, if anything.',
				details: {version},
			});
		}

		const startedAt = new Date();
		await client.query('BEGIN');
		try {
			await client.query(
				`UPDATE ${LEDGER_TABLE} SET checksum = $2, up_sql = $3, rollback_sql = $4, rollback_checksum = $5 WHERE version = $1`,
				[version, file.checksum, file.sql, rollbackSql, file.rollback?.checksum ?? null],
			);
			await ledger.appendHistory({
				action: 'accept',
				outcome: 'succeeded',
				version,
				name: file.name,
				checksum: file.checksum,
				startedAt,
				durationMs: 0,
				details: {previousChecksum: applied.checksum, checksum: file.checksum, rollbackUpdated},
			});
			await client.query('COMMIT');
		} catch (error) {
			await client.query('ROLLBACK').catch(() => {});
			throw error;
		}

		// The accepted change is now the expected schema; drift compares against it from here on.
		await storeCatalogSnapshot(client, ledger, 'after-accept', version);
		return {version, name: file.name, previousChecksum: applied.checksum, checksum: file.checksum, rollbackUpdated};
	});
}
