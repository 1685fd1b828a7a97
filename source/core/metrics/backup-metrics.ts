/**
 * The backups of a target as Prometheus gauges, read through a {@link ScrapeSource} (cached,
 * time-boxed; `msdb_scrape_source_up{source="backups"}` says whether the target answers). A read
 * is the listing `msdb backup list` shows (one LIST, one GET per manifest and newest record), so
 * it is reused for minutes, not re-read per scrape; the ages below are computed at scrape time
 * from the times read, so they grow exactly between reads.
 *
 * Families:
 *   msdb_backups                                        gauge: backups in the target (folders with a valid manifest)
 *   msdb_backup_problems                                gauge: unreadable manifests and verification records
 *   msdb_backup_last_age_seconds                        gauge: since the newest backup finished
 *   msdb_backup_last_verified_age_seconds               gauge: since the newest passing verification (plain or drill)
 *   msdb_backup_last_verified_restore_age_seconds       gauge: since the newest passing restore drill (`backup verify --drill`)
 * An age has no sample when there is nothing to measure (no backup, never verified, never
 * drilled): alert on `absent(...)` as well as on the age, or on `msdb_backups == 0`.
 */
import type {Registry} from 'prom-client';
import {listBackups} from '../backup/backup-catalogue.js';
import type {BackupTarget} from '../backup/backup-target.js';
import {newestPassingDrill} from '../backup/restore-drills.js';
import {ActionableError} from '../errors.js';
import {membersOf, registerMember, type MetricFamily} from './collected-metric.js';
import {registerScrapeSource, ScrapeSource, type ScrapeSourceOptions} from './scrape-source.js';

/** What one read of the target found; times are epoch ms, undefined when there is none. */
export type BackupFacts = {
	backups: number;
	problems: number;
	newestFinishedAt: number | undefined;
	lastVerifiedAt: number | undefined;
	lastDrillAt: number | undefined;
};

/** Default reuse of a backup reading: a listing reads every manifest, and backups come daily. */
export const DEFAULT_BACKUP_MAX_AGE_MS = 5 * 60_000;

/**
 * Reads the facts once. "Verified" counts each backup's newest record (a backup whose latest
 * verification failed is not verified any more); a drill counts when any record of the backup
 * is a passing drill, as `msdb health` judges it.
 */
export async function readBackupFacts(target: BackupTarget): Promise<BackupFacts> {
	const catalogue = await listBackups(target);
	let lastVerifiedAt: number | undefined;
	for (const backup of catalogue.backups) {
		const last = backup.lastVerification;
		if (last?.ok) {
			lastVerifiedAt = Math.max(lastVerifiedAt ?? 0, Date.parse(last.verifiedAt));
		}
	}

	const drill = await newestPassingDrill(target, catalogue);

	const newest = catalogue.backups[0];
	return {
		backups: catalogue.backups.length,
		problems: catalogue.problems.length,
		newestFinishedAt: newest ? Date.parse(newest.finishedAt) : undefined,
		lastVerifiedAt,
		lastDrillAt: drill ? Date.parse(drill.verifiedAt) : undefined,
	};
}

const FAMILIES: ReadonlyArray<MetricFamily<ScrapeSource<BackupFacts>>> = [
	family('msdb_backups', 'Backups in the target (folders with a valid manifest)', facts => facts.backups),
	family('msdb_backup_problems', 'Unreadable manifests and verification records in the target (msdb backup list names them)', facts => facts.problems),
	age('msdb_backup_last_age_seconds', 'Seconds since the newest backup finished (no sample when there is no backup)', facts => facts.newestFinishedAt),
	age('msdb_backup_last_verified_age_seconds', 'Seconds since the newest passing verification of a backup (no sample when none passed)', facts => facts.lastVerifiedAt),
	age(
		'msdb_backup_last_verified_restore_age_seconds',
		'Seconds since the newest passing restore drill, backup verify --drill (no sample when none passed)',
		facts => facts.lastDrillAt,
	),
];

function family(name: string, help: string, value: (facts: BackupFacts) => number | undefined): MetricFamily<ScrapeSource<BackupFacts>> {
	return {
		name,
		help,
		type: 'gauge',
		async samples(source) {
			const {value: facts} = await source.read();
			const sample = facts === undefined ? undefined : value(facts);
			return sample === undefined ? [] : [{labels: {}, value: sample}];
		},
	};
}

function age(name: string, help: string, time: (facts: BackupFacts) => number | undefined): MetricFamily<ScrapeSource<BackupFacts>> {
	return family(name, help, facts => {
		const at = time(facts);
		// A clock behind the target's by a little must not make an age negative.
		return at === undefined ? undefined : Math.max(0, (Date.now() - at) / 1000);
	});
}

/**
 * Registers the backup gauges and the `backups` source's up gauge in `registry`; returns the
 * source (for health checks). One target per registry.
 */
export function registerBackupMetrics(target: BackupTarget, registry: Registry, options: ScrapeSourceOptions = {}): ScrapeSource<BackupFacts> {
	if (membersOf(registry, FAMILIES).length > 0) {
		throw new ActionableError('E_CONFIG_INVALID', 'registerBackupMetrics: this registry already exports a backup target.', {
			nextStep: 'Use one registry per backup target.',
		});
	}

	const source = new ScrapeSource<BackupFacts>('backups', async () => readBackupFacts(target), {...options, maxAgeMs: options.maxAgeMs ?? DEFAULT_BACKUP_MAX_AGE_MS});
	registerMember(registry, FAMILIES, source);
	registerScrapeSource(source as ScrapeSource<unknown>, registry);
	return source;
}
