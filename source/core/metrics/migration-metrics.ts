/**
 * The migration state of a database as Prometheus gauges, read through a {@link ScrapeSource}
 * (cached, time-boxed; `msdb_scrape_source_up{source="migrations"}` says whether it answers).
 *
 * Families:
 *   msdb_migrations_applied               gauge: rows in the ledger (0 when there is no ledger)
 *   msdb_migrations_pending               gauge: files in the migrations folder not in the ledger;
 *                                         no sample when pending files are not counted (no folder here)
 *   msdb_migrations_current_version       gauge: highest applied version; no sample when none is applied
 *
 * Pending counts the files as they are on the exporter's host, so an exporter deployed with the
 * project's migrations folder shows what the next deploy's `migrate apply` will run.
 */
import type {Registry} from 'prom-client';
import type {DatabaseConfig} from '../config/database-config.js';
import {connectDatabase} from '../database/connect.js';
import {ActionableError} from '../errors.js';
import {compareWithLedger} from '../migrations/ledger-comparison.js';
import {MigrationLedger} from '../migrations/migration-ledger.js';
import {readValidMigrationSource} from '../migrations/migration-source.js';
import {membersOf, registerMember, type MetricFamily} from './collected-metric.js';
import {DEFAULT_SOURCE_TIMEOUT_MS, registerScrapeSource, ScrapeSource, type ScrapeSourceOptions} from './scrape-source.js';

/** What the migration gauges show. */
export type MigrationCounts = {
	applied: number;
	/** Undefined when pending files are not counted. */
	pending: number | undefined;
	current: number | null;
};

/** The database and the folders to compare it with (a MigrationSettings will do). */
export type MigrationMetricsSettings = {database: DatabaseConfig; migrationsDir: string; rollbacksDir: string};

/** How the migration state is read. */
export type MigrationMetricsOptions = ScrapeSourceOptions & {
	/**
	 * Count pending files from `migrationsDir` (default true). False for an exporter that runs
	 * away from the project (no folder): applied and current are still exported.
	 */
	countPending?: boolean;
};

/** Reads the counts once: the ledger over one short connection, and the folder when asked to. */
export async function readMigrationCounts(settings: MigrationMetricsSettings, options: {countPending: boolean; signal?: AbortSignal; connectTimeoutMs?: number}): Promise<MigrationCounts> {
	// Files first: a bad folder fails the read before any connection is opened.
	const source = options.countPending ? await readValidMigrationSource(settings) : undefined;
	const client = await connectDatabase(settings.database, {applicationName: 'msdb:metrics', connectTimeoutMs: options.connectTimeoutMs ?? 10_000});
	// An abandoned read (scrape deadline) must not keep its connection: ending it fails the query.
	const end = () => void client.end().catch(() => {});
	options.signal?.addEventListener('abort', end, {once: true});
	try {
		const applied = await new MigrationLedger(client, 'msdb:metrics').readApplied();
		const current = applied.length > 0 ? Math.max(...applied.map(row => row.version)) : null;
		return {applied: applied.length, pending: source ? compareWithLedger(source.migrations, applied).pending.length : undefined, current};
	} finally {
		options.signal?.removeEventListener('abort', end);
		end();
	}
}

/**
 * The connect attempt outlives the source's deadline by a second: the deadline, not pg's own
 * timeout, must decide (and word) the failure, and an abandoned attempt still ends soon after.
 */
function connectTimeoutMs(timeoutMs: number | undefined): number {
	return (timeoutMs ?? DEFAULT_SOURCE_TIMEOUT_MS) + 1000;
}

const FAMILIES: ReadonlyArray<MetricFamily<ScrapeSource<MigrationCounts>>> = [
	family('msdb_migrations_applied', 'Migrations recorded in the ledger', counts => counts.applied),
	family('msdb_migrations_pending', 'Migration files not yet applied (no sample when the exporter has no migrations folder)', counts => counts.pending),
	family('msdb_migrations_current_version', 'Highest applied migration version (no sample when none is applied)', counts => counts.current ?? undefined),
];

function family(name: string, help: string, value: (counts: MigrationCounts) => number | undefined): MetricFamily<ScrapeSource<MigrationCounts>> {
	return {
		name,
		help,
		type: 'gauge',
		async samples(source) {
			const {value: counts} = await source.read();
			const sample = counts === undefined ? undefined : value(counts);
			return sample === undefined ? [] : [{labels: {}, value: sample}];
		},
	};
}

/**
 * Registers the migration gauges and the `migrations` source's up gauge in `registry`; returns
 * the source (for health checks). One database per registry.
 */
export function registerMigrationMetrics(settings: MigrationMetricsSettings, registry: Registry, options: MigrationMetricsOptions = {}): ScrapeSource<MigrationCounts> {
	if (membersOf(registry, FAMILIES).length > 0) {
		throw new ActionableError('E_CONFIG_INVALID', 'registerMigrationMetrics: this registry already exports the migrations of a database.', {
			nextStep: 'Use one registry per database (Prometheus tells them apart by scrape target).',
		});
	}

	const countPending = options.countPending ?? true;
	const source = new ScrapeSource<MigrationCounts>('migrations', async signal => readMigrationCounts(settings, {countPending, signal, connectTimeoutMs: connectTimeoutMs(options.timeoutMs)}), options);
	registerMember(registry, FAMILIES, source);
	registerScrapeSource(source as ScrapeSource<unknown>, registry);
	return source;
}
