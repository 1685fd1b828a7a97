/**
 * Agent-state metrics (README "Dual-store consistency"), read from the stores at scrape time so
 * any exporter can serve them (`msdb metrics` has no relay of its own): the relays run in
 * `msdb worker`, their backlog is in PostgreSQL and Redis, and their counts are kept in a Redis
 * hash the relays add to after each batch.
 *
 * Through a {@link ScrapeSource} (`msdb_scrape_source_up{source="agent-state"}`):
 *   msdb_agent_state_outbox_rows                   gauge: committed strong / postgres-first changes not yet relayed (queue depth)
 *   msdb_agent_state_outbox_lag_seconds            gauge: age of the oldest of them (0 when none)
 *   msdb_agent_state_write_behind_entries          gauge: redis-first / eventual writes not yet in PostgreSQL (queue depth)
 *   msdb_agent_state_write_behind_pending          gauge: of those, read by a writer and not acknowledged yet
 *   msdb_agent_state_write_behind_lag_seconds      gauge: age of the oldest entry (0 when none): what a Redis crash without persistence would lose
 *   msdb_agent_state_relay_total{count}            counter: relayed | repairs | filled | dropped | rewarmed | persisted | claimed | orphaned | rejected | gone
 * The counters live in Redis: they restart from 0 when Redis loses its data.
 */
import type pg from 'pg';
import type {Registry} from 'prom-client';
import {ActionableError} from '../errors.js';
import {registerMember, membersOf, type MetricFamily} from '../metrics/collected-metric.js';
import {registerScrapeSource, ScrapeSource, type ScrapeSourceOptions} from '../metrics/scrape-source.js';
import {redisKey} from '../redis/key-names.js';
import type {RedisClient} from '../redis/redis-client.js';
import {AGENT_STATE_DOMAIN, AGENT_STATE_PARTITIONS, agentStateLogKey} from './agent-state-layout.js';
import {WRITE_BEHIND_GROUP} from './write-behind-writer.js';

/** The relay counts kept in Redis. */
export const RELAY_COUNTS = ['relayed', 'repairs', 'filled', 'dropped', 'rewarmed', 'persisted', 'claimed', 'orphaned', 'rejected', 'gone'] as const;

export type RelayCount = (typeof RELAY_COUNTS)[number];

/** What the stores say about the relays. */
export type AgentStateBacklog = {
	outbox: {rows: number; oldestAgeSeconds: number};
	writeBehind: {entries: number; pending: number; oldestAgeSeconds: number};
	counts: Record<RelayCount, number>;
};

/** `ms:<env>:agent-state-relay-stats`: a hash of {@link RELAY_COUNTS}. */
export function relayCountsKey(env: string): string {
	return redisKey({env, domain: `${AGENT_STATE_DOMAIN}-relay-stats`});
}

/** Adds a batch's counts (zeros skipped) to the shared hash. */
export async function addRelayCounts(redis: RedisClient, env: string, counts: Partial<Record<RelayCount, number>>): Promise<void> {
	const entries = Object.entries(counts).filter(([, value]) => value !== undefined && value > 0) as Array<[RelayCount, number]>;
	if (entries.length === 0) {
		return;
	}

	const key = relayCountsKey(env);
	const pipeline = redis.pipeline();
	for (const [field, value] of entries) {
		pipeline.hincrby(key, field, value);
	}

	await pipeline.exec();
}

/** Reads the backlog and the counts: one PostgreSQL query, a few Redis commands per partition. */
export async function readAgentStateBacklog(input: {database: Pick<pg.Pool, 'query'>; redis: RedisClient; env: string}): Promise<AgentStateBacklog> {
	const [outbox, partitions, counts] = await Promise.all([
		input.database.query<{rows: string; age: number | null}>(
			`SELECT count(*)::text AS rows,
				(SELECT extract(epoch FROM clock_timestamp() - created_at)::float8 FROM agents.state_outbox ORDER BY id LIMIT 1) AS age
			FROM agents.state_outbox`,
		),
		Promise.all(
			Array.from({length: AGENT_STATE_PARTITIONS}, async (_, partition) => {
				const key = agentStateLogKey(input.env, partition);
				const [length, first, pending] = await Promise.all([
					input.redis.xlen(key),
					input.redis.xrange(key, '-', '+', 'COUNT', 1),
					input.redis.xpending(key, WRITE_BEHIND_GROUP).catch(() => [0]) as Promise<unknown[]>,
				]);
				return {length, firstId: first[0]?.[0], pending: Number(pending[0] ?? 0)};
			}),
		),
		input.redis.hgetall(relayCountsKey(input.env)),
	]);
	const now = Date.now();
	const oldestMs = Math.min(...partitions.map(partition => (partition.firstId ? Number(partition.firstId.split('-')[0]) : now)));
	const row = outbox.rows[0];
	return {
		outbox: {rows: Number(row?.rows ?? 0), oldestAgeSeconds: Math.max(0, row?.age ?? 0)},
		writeBehind: {
			entries: partitions.reduce((sum, partition) => sum + partition.length, 0),
			pending: partitions.reduce((sum, partition) => sum + partition.pending, 0),
			oldestAgeSeconds: Math.max(0, (now - oldestMs) / 1000),
		},
		counts: Object.fromEntries(RELAY_COUNTS.map(count => [count, Number(counts[count] ?? 0)])) as Record<RelayCount, number>,
	};
}

const gauge = (name: string, help: string, value: (backlog: AgentStateBacklog) => number): MetricFamily<ScrapeSource<AgentStateBacklog>> => ({
	name,
	help,
	type: 'gauge',
	async samples(source) {
		const {value: backlog} = await source.read();
		return backlog === undefined ? [] : [{labels: {}, value: value(backlog)}];
	},
});

const FAMILIES: ReadonlyArray<MetricFamily<ScrapeSource<AgentStateBacklog>>> = [
	gauge('msdb_agent_state_outbox_rows', 'Committed strong and postgres-first state changes not yet relayed to Redis and the events', backlog => backlog.outbox.rows),
	gauge('msdb_agent_state_outbox_lag_seconds', 'Age of the oldest change in the outbox (0 when it is empty)', backlog => backlog.outbox.oldestAgeSeconds),
	gauge('msdb_agent_state_write_behind_entries', 'Redis-first and eventual writes not yet persisted to PostgreSQL', backlog => backlog.writeBehind.entries),
	gauge('msdb_agent_state_write_behind_pending', 'Write-behind entries read by a writer and not acknowledged yet', backlog => backlog.writeBehind.pending),
	gauge('msdb_agent_state_write_behind_lag_seconds', 'Age of the oldest write-behind entry (0 when none): what a Redis crash without persistence would lose', backlog => backlog.writeBehind.oldestAgeSeconds),
	{
		name: 'msdb_agent_state_relay_total',
		help: 'What the agent-state relays did: relayed, repairs (Redis copies older than PostgreSQL replaced), filled, dropped, rewarmed, persisted, claimed, orphaned, rejected, gone (write-behind entries lost with Redis before their commit)',
		type: 'counter',
		async samples(source) {
			const {value: backlog} = await source.read();
			return backlog === undefined ? [] : RELAY_COUNTS.map(count => ({labels: {count}, value: backlog.counts[count]}));
		},
	},
];

/**
 * Registers the agent-state gauges and counters and their source's up gauge in `registry`;
 * returns the source (for health checks). One database and Redis per registry.
 */
export function registerAgentStateMetrics(
	input: {database: Pick<pg.Pool, 'query'>; redis: RedisClient; env: string},
	registry: Registry,
	options: ScrapeSourceOptions = {},
): ScrapeSource<AgentStateBacklog> {
	if (membersOf(registry, FAMILIES).length > 0) {
		throw new ActionableError('E_CONFIG_INVALID', 'registerAgentStateMetrics: this registry already exports agent-state metrics.', {
			nextStep: 'Use one registry per database and Redis.',
		});
	}

	const source = new ScrapeSource<AgentStateBacklog>('agent-state', async () => readAgentStateBacklog(input), {maxAgeMs: 1000, ...options});
	registerMember(registry, FAMILIES, source);
	registerScrapeSource(source as ScrapeSource<unknown>, registry);
	return source;
}
