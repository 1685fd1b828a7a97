import {asMsdbError} from '../errors.js';
import {detectDrift} from '../migrations/drift.js';
import type {MigrationSettings} from '../migrations/migration-settings.js';
import {migrationStatus} from '../migrations/status.js';
import {validateMigrations} from '../migrations/validate.js';
import {redact} from '../redact.js';
import type {MigrationsOverview} from './dashboard-snapshot.js';

/**
 * Reads status, validation and drift for the migrations panel, one after the other (one
 * connection at a time: the console must stay a light load). Each part may fail on its own: a
 * folder with a bad file fails the status (apply would refuse it too) while validation names the
 * file, so the panel shows what answered and why the rest did not. Throws only when no part
 * answered, which is the server being down: the poller then backs off.
 */
export async function readMigrationsOverview(settings: MigrationSettings): Promise<MigrationsOverview> {
	const [status, validation, drift] = [
		await settle(async () => migrationStatus(settings)),
		await settle(async () => validateMigrations(settings)),
		await settle(async () => detectDrift(settings)),
	];
	if (!status.ok && !validation.ok && !drift.ok) {
		throw status.error;
	}

	const errors: MigrationsOverview['errors'] = {};
	if (!status.ok) {
		errors.status = describe(status.error);
	}

	if (!validation.ok) {
		errors.validation = describe(validation.error);
	}

	if (!drift.ok) {
		errors.drift = describe(drift.error);
	}

	return {
		statusKnown: status.ok,
		current: status.ok ? status.value.current : null,
		applied: status.ok ? status.value.applied.length : 0,
		pending: status.ok ? status.value.pending.map(({version, name}) => ({version, name})) : [],
		validation: validation.ok
			? {
					ok: validation.value.ok,
					problems: validation.value.problems.map(problem => ({
						...(problem.version === undefined ? {} : {version: problem.version}),
						kind: problem.kind,
						message: redact(problem.message),
					})),
				}
			: null,
		drift: drift.ok
			? {
					ok: drift.value.ok,
					problems: drift.value.problems.map(problem => ({identity: problem.identity, message: redact(problem.message)})),
					snapshotTakenAt: drift.value.snapshot?.takenAt ?? null,
				}
			: null,
		errors,
	};
}

type Settled<T> = {ok: true; value: T} | {ok: false; error: unknown};

async function settle<T>(work: () => Promise<T>): Promise<Settled<T>> {
	try {
		return {ok: true, value: await work()};
	} catch (error) {
		return {ok: false, error};
	}
}

function describe(error: unknown): string {
	return redact(asMsdbError(error).message);
}
