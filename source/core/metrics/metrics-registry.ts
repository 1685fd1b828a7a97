/**
 * One call that puts what a process has into a fresh prom-client Registry: the in-process
 * families of its pools, Redis connections and caches (read from their stats at scrape time)
 * and the operational sources (migrations, backups, the fleet's heartbeats; cached, time-boxed,
 * each with its `msdb_scrape_source_up`; the dual store's relay backlog). A framework service passes its pools, connections and
 * caches; `msdb metrics` passes the operational sources and the fleet.
 */
import {collectDefaultMetrics, Registry} from 'prom-client';
import type pg from 'pg';
import type {BackupTarget} from '../backup/backup-target.js';
import {registerCacheMetrics, type CacheStatsSource} from '../cache/cache-metrics.js';
import {registerAgentStateMetrics} from '../dual-store/dual-store-metrics.js';
import type {RedisClient} from '../redis/redis-client.js';
import {registerBackupMetrics} from './backup-metrics.js';
import {registerFleetMetrics, type FleetMetricsOptions} from './fleet-metrics.js';
import {registerMigrationMetrics, type MigrationMetricsOptions, type MigrationMetricsSettings} from './migration-metrics.js';
import {registerPoolMetrics, type PoolStatsSource} from './pool-metrics.js';
import {registerRedisCommandMetrics, type RedisCommandStatsSource} from './redis-command-metrics.js';
import type {ScrapeSource, ScrapeSourceOptions} from './scrape-source.js';

/** What to export; everything is optional. */
export type MetricsRegistryInput = {
	/** The process's PostgreSQL pools (a DatabasePools). */
	pools?: PoolStatsSource;
	/** The process's Redis role connections (a RedisConnections). */
	redis?: RedisCommandStatsSource;
	/** The process's caches (MultiLevelCache instances). */
	caches?: readonly CacheStatsSource[];
	/** The migration ledger (and folder) of a database. */
	migrations?: {settings: MigrationMetricsSettings} & MigrationMetricsOptions;
	/** A backup target. */
	backups?: {target: BackupTarget} & ScrapeSourceOptions;
	/** The fleet's heartbeats, read with `client`. */
	fleet?: {client: RedisClient} & FleetMetricsOptions;
	/** The dual store's relay backlog (outbox rows, write-behind entries, lag, repairs). */
	agentState?: {database: Pick<pg.Pool, 'query'>; redis: RedisClient; env: string} & ScrapeSourceOptions;
	/**
	 * prom-client's default process and Node.js metrics (CPU, memory, event-loop lag, GC), under
	 * their usual names (`process_*`, `nodejs_*`). Default false: a service may export them already.
	 */
	processMetrics?: boolean;
};

/** Whether the operational sources answer: what `/healthz` reports. */
export type SourcesHealth = {
	/** True when every source's last read succeeded (true when there are none). */
	ok: boolean;
	sources: Array<{source: string; up: boolean; error?: string}>;
};

/** The registry and what is needed to serve and probe it. */
export type MetricsRegistry = {
	registry: Registry;
	/** The operational sources registered, by name (`migrations`, `backups`, `fleet`). */
	sources: ReadonlyArray<ScrapeSource<unknown>>;
	/** Reads every source (through its cache, time-boxed) and says which answer. */
	health(): Promise<SourcesHealth>;
};

/** Creates a Registry (never prom-client's global one) with what `input` names registered. */
export function createMetricsRegistry(input: MetricsRegistryInput = {}): MetricsRegistry {
	const registry = new Registry();
	if (input.processMetrics) {
		collectDefaultMetrics({register: registry});
	}

	if (input.pools) {
		registerPoolMetrics(input.pools, registry);
	}

	if (input.redis) {
		registerRedisCommandMetrics(input.redis, registry);
	}

	for (const cache of input.caches ?? []) {
		registerCacheMetrics(cache, registry);
	}

	const sources: Array<ScrapeSource<unknown>> = [];
	if (input.migrations) {
		const {settings, ...options} = input.migrations;
		sources.push(registerMigrationMetrics(settings, registry, options) as ScrapeSource<unknown>);
	}

	if (input.backups) {
		const {target, ...options} = input.backups;
		sources.push(registerBackupMetrics(target, registry, options) as ScrapeSource<unknown>);
	}

	if (input.fleet) {
		const {client, ...options} = input.fleet;
		sources.push(registerFleetMetrics(client, registry, options) as ScrapeSource<unknown>);
	}

	if (input.agentState) {
		const {database, redis, env, ...options} = input.agentState;
		sources.push(registerAgentStateMetrics({database, redis, env}, registry, options) as ScrapeSource<unknown>);
	}

	return {
		registry,
		sources,
		async health() {
			const readings = await Promise.all(sources.map(async source => ({source: source.name, reading: await source.read()})));
			return {
				ok: readings.every(({reading}) => reading.up),
				sources: readings.map(({source, reading}) => (reading.up ? {source, up: true} : {source, up: false, error: reading.error ?? 'down'})),
			};
		},
	};
}
