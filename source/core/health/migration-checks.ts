import {stat} from 'node:fs/promises';
import {detectDrift} from '../migrations/drift.js';
import {compareWithLedger} from '../migrations/ledger-comparison.js';
import {withMigrationSession} from '../migrations/migration-session.js';
import type {MigrationSettings} from '../migrations/migration-settings.js';
import {readValidMigrationSource} from '../migrations/migration-source.js';
import {elapsedMs, type CheckFailure, type CheckFamily} from './guarded-check.js';
import type {HealthCheck} from './health-check-types.js';

const NO_LEDGER: Omit<HealthCheck, 'latencyMs' | 'details'> = {
	name: 'migrations',
	status: 'fail',
	message: 'no migrations applied: the database has no migration ledger (__ms_migrations)',
	nextStep: 'Run `msdb migrate apply` (or `msdb migrate baseline <version>` for a database created another way).',
};

/**
 * `migrations`: the database is at the newest migration in the folder. Pending files fail it;
 * so do applied files that were edited or removed (the next deploy's apply would refuse). A
 * default `./migrations` that does not exist means health runs away from the project (an ops
 * host): the ledger is still checked, the pending count is skipped. A folder named with
 * `--migrations-dir` that does not exist is a mistake and fails.
 */
export function migrationsCheck(settings: MigrationSettings, options: {migrationsDirExplicit: boolean}): CheckFamily {
	return {
		async run(signal) {
			const folderMissing = !options.migrationsDirExplicit && !(await folderExists(settings.migrationsDir));
			const source = folderMissing ? undefined : await readValidMigrationSource(settings);
			const started = performance.now();
			return withMigrationSession({...settings, signal}, {lock: false}, async ({ledger}) => {
				const ledgerExists = await ledger.exists();
				const applied = ledgerExists ? await ledger.readApplied() : [];
				const latencyMs = elapsedMs(started);
				if (!ledgerExists) {
					return [{...NO_LEDGER, latencyMs, details: {pending: source?.migrations.length ?? null}}];
				}

				if (!source) {
					const current = applied.length > 0 ? Math.max(...applied.map(row => row.version)) : null;
					return [
						{
							name: 'migrations',
							status: 'skip',
							latencyMs,
							message: `current version ${current ?? 'none'}; pending not checked: no ${settings.migrationsDir} folder here (pass --migrations-dir)`,
							details: {current, applied: applied.length},
						},
					];
				}

				const comparison = compareWithLedger(source.migrations, applied);
				const details = {
					current: comparison.current,
					applied: comparison.applied.length,
					pending: comparison.pending.map(file => file.version),
					checksumMismatches: comparison.checksumMismatches.map(({file}) => file.version),
					missingFiles: comparison.missingFiles.map(row => row.version),
				};
				const troubles = [
					comparison.pending.length > 0 ? `${comparison.pending.length} pending (${comparison.pending.map(file => file.fileName).join(', ')})` : undefined,
					details.checksumMismatches.length > 0 ? `${details.checksumMismatches.join(', ')} changed since applied` : undefined,
					details.missingFiles.length > 0 ? `${details.missingFiles.join(', ')} applied but the file is missing` : undefined,
				].filter(trouble => trouble !== undefined);
				if (troubles.length > 0) {
					return [
						{
							name: 'migrations',
							status: 'fail',
							latencyMs,
							message: `current version ${comparison.current ?? 'none'}: ${troubles.join('; ')}`,
							nextStep:
								comparison.pending.length > 0 && troubles.length === 1
									? 'Run `msdb migrate apply` (`msdb migrate status` lists them).'
									: 'Run `msdb migrate validate` to see what changed, then `msdb migrate apply`.',
							details,
						},
					];
				}

				return [{name: 'migrations', status: 'pass', latencyMs, message: `up to date at version ${comparison.current ?? 'none'} (${comparison.applied.length} applied)`, details}];
			});
		},
		failed(failure) {
			return [unreachable('migrations', failure) ?? {name: 'migrations', status: 'fail', message: failure.message, nextStep: failure.nextStep ?? 'Check the database is reachable (see postgres:primary), then `msdb migrate status`.'}];
		},
	};
}

/**
 * `drift`: the live catalog matches the snapshot stored after the last migration (monthly
 * partitions excepted: they are data layout). Skipped when there is no snapshot to compare with.
 */
export function driftCheck(settings: MigrationSettings): CheckFamily {
	return {
		async run(signal) {
			const started = performance.now();
			const result = await detectDrift({...settings, signal});
			const latencyMs = elapsedMs(started);
			if (!result.snapshot) {
				return [{name: 'drift', status: 'skip', latencyMs, message: 'no catalog snapshot to compare with (no migration applied by msdb yet)'}];
			}

			const details = {snapshot: result.snapshot, problems: result.problems.map(({change, objectType, identity}) => ({change, objectType, identity}))};
			if (!result.ok) {
				const shown = result.problems.slice(0, 3).map(problem => problem.message);
				return [
					{
						name: 'drift',
						status: 'fail',
						latencyMs,
						message: `${result.problems.length} change(s) made outside migrations: ${shown.join('; ')}${result.problems.length > shown.length ? ' …' : ''}`,
						nextStep: 'Run `msdb migrate drift` for the full list; turn wanted changes into a migration, revert the others.',
						details,
					},
				];
			}

			return [{name: 'drift', status: 'pass', latencyMs, message: `the catalog matches the snapshot taken at version ${result.snapshot.version ?? 'none'}`, details}];
		},
		failed(failure) {
			return [unreachable('drift', failure) ?? {name: 'drift', status: 'fail', message: failure.message, nextStep: failure.nextStep ?? 'Check the database is reachable (see postgres:primary), then `msdb migrate drift`.'}];
		},
	};
}

/**
 * Unknown rather than failed when the database cannot be reached: postgres:primary fails and
 * names the cause once, instead of three checks repeating the same connection error.
 */
function unreachable(name: string, failure: CheckFailure): HealthCheck | undefined {
	return failure.code === 'E_DATABASE_UNREACHABLE' ? {name, status: 'skip', message: 'not checked: the database is unreachable (see postgres:primary)'} : undefined;
}

async function folderExists(folder: string): Promise<boolean> {
	try {
		await stat(folder);
		return true;
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
			return false;
		}

		throw error;
	}
}
