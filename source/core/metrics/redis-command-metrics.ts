/**
 * Exposes the Redis commands of a process's role connections (RedisConnections) to Prometheus
 * through a prom-client Registry the caller owns. Values are read from `commandStats()` at
 * scrape time; counting happens where every command already passes (redis-command-stats.ts).
 *
 * Families (labelled role, plus instance when given):
 *   msdb_redis_commands_total{outcome}        counter: ok | error | timeout
 *   msdb_redis_command_duration_seconds       histogram: first send → outcome (offline-queue wait included)
 *   msdb_redis_connected                      gauge: 1 while the role's connection is ready
 * Roles appear once their connection exists (RedisConnections opens a role on first use).
 */
import type {Registry} from 'prom-client';
import type {RedisCommandStats} from '../redis/redis-command-stats.js';
import {counterFamily, gaugeFamily, histogramSamples, membersOf, refuseDuplicateInstance, registerMember, type MetricFamily} from './collected-metric.js';

/** Anything with per-role command counters: a RedisConnections, or a wrapper around one. */
export type RedisCommandStatsSource = {commandStats(): RedisCommandStats[]};

/** How the series of one set of connections are told apart from another's in the same registry. */
export type RedisCommandMetricsOptions = {
	/** Value of an `instance` label on every series; needed only when several sources share a registry. */
	instance?: string;
};

type Member = {source: RedisCommandStatsSource; labels: Record<string, string>};

const labelsOf = (member: Member) => member.labels;

const FAMILIES: ReadonlyArray<MetricFamily<Member>> = [
	counterFamily<Member>(
		'msdb_redis_commands_total',
		'Commands sent by the role connection, by outcome (ok, error reply or dropped connection, timeout)',
		member =>
			member.source.commandStats().flatMap(stats => [
				[{role: stats.role, outcome: 'ok'}, stats.commands.ok],
				[{role: stats.role, outcome: 'error'}, stats.commands.error],
				[{role: stats.role, outcome: 'timeout'}, stats.commands.timeout],
			]),
		labelsOf,
	),
	{
		name: 'msdb_redis_command_duration_seconds',
		help: 'Time from sending a command to its outcome, waiting for a connection included',
		type: 'histogram',
		samples: member => member.source.commandStats().flatMap(stats => histogramSamples('msdb_redis_command_duration_seconds', {...member.labels, role: stats.role}, stats.latency)),
	},
	gaugeFamily<Member>('msdb_redis_connected', '1 while the role connection is ready, 0 while it is (re)connecting', member => member.source.commandStats().map(stats => [{role: stats.role}, stats.connected ? 1 : 0]), labelsOf),
];

/**
 * Registers the connections' command metrics in `registry` (never prom-client's global default).
 * Several sources may share a registry when each has its own `instance`. Returns the function
 * that removes them again.
 */
export function registerRedisCommandMetrics(connections: RedisCommandStatsSource, registry: Registry, options: RedisCommandMetricsOptions = {}): () => void {
	refuseDuplicateInstance(membersOf(registry, FAMILIES), options.instance, 'registerRedisCommandMetrics');
	return registerMember(registry, FAMILIES, {source: connections, labels: options.instance === undefined ? {} : {instance: options.instance}});
}
