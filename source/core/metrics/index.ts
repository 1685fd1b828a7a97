/**
 * Prometheus metrics (prom-client, a Registry the caller owns): in-process families of pools,
 * Redis commands and caches read from their stats at scrape time; operational gauges
 * (migrations, backups, the fleet's heartbeats) read through cached, time-boxed sources; and a
 * small HTTP endpoint serving /metrics and /healthz. Headless; what source/index.ts re-exports.
 */
export {createMetricsRegistry} from './metrics-registry.js';
export type {MetricsRegistry, MetricsRegistryInput, SourcesHealth} from './metrics-registry.js';
export {registerPoolMetrics} from './pool-metrics.js';
export type {PoolMetricsOptions, PoolStatsSource} from './pool-metrics.js';
export {registerRedisCommandMetrics} from './redis-command-metrics.js';
export type {RedisCommandMetricsOptions, RedisCommandStatsSource} from './redis-command-metrics.js';
export {registerMigrationMetrics, readMigrationCounts} from './migration-metrics.js';
export type {MigrationCounts, MigrationMetricsOptions, MigrationMetricsSettings} from './migration-metrics.js';
export {registerBackupMetrics, readBackupFacts, DEFAULT_BACKUP_MAX_AGE_MS} from './backup-metrics.js';
export type {BackupFacts} from './backup-metrics.js';
export {registerFleetMetrics, DEFAULT_FLEET_MAX_AGE_MS} from './fleet-metrics.js';
export type {FleetMetricsOptions} from './fleet-metrics.js';
export {ScrapeSource, registerScrapeSource, DEFAULT_SOURCE_MAX_AGE_MS, DEFAULT_SOURCE_TIMEOUT_MS, RETRY_AFTER_MS} from './scrape-source.js';
export type {ScrapeSourceOptions, SourceReading} from './scrape-source.js';
export {serveMetrics} from './metrics-server.js';
export type {MetricsHealthCheck, MetricsServer, ServeMetricsOptions} from './metrics-server.js';
export {histogramSamples} from './collected-metric.js';
export type {MetricFamily, MetricSample} from './collected-metric.js';
