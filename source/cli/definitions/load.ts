import {z} from 'zod';
import type {LoadSummary} from '../../core/load/load-summary.js';
import {defineCommand} from '../command-definition.js';
import {durationOption, globalOptions} from '../global-options.js';
import {optionMeta} from '../option-meta.js';
import {table, text, type OutputBlock} from '../output-blocks.js';

/**
 * Scripts get every status event as a stderr line: a throughput line every second would be an
 * animation in a log, so they get one every 2 s; the console replaces its spinner with each one,
 * so it gets them every second.
 */
const SCRIPT_REPORT_INTERVAL_MS = 2000;
const CONSOLE_REPORT_INTERVAL_MS = 1000;

/**
 * `msdb load`: a workload through the core library (agent reads through the cache, sessions,
 * tasks, messages, state writes) at `--rate` operations per second, with a live throughput line,
 * until `--duration` ends or Ctrl-C / SIGTERM; exit 0 with the summary either way. It publishes
 * a heartbeat as `msdb load`, so `msdb metrics` and the console see its pools and cache move.
 */
export const load = defineCommand({
	path: ['load'],
	description: 'Generate load through the core library (cache reads, sessions, tasks, messages, state writes) at a paced rate, for demos and benchmarks',
	options: z.object({
		...globalOptions,
		rate: z
			.number()
			.min(0)
			.default(100)
			.describe(optionMeta({description: 'Operations per second, paced open loop (0: as fast as --max-in-flight allows)', valueDescription: 'ops/s', defaultValueDescription: '100'})),
		duration: durationOption('Stop after this long (0: run until Ctrl-C or SIGTERM)', '0'),
		agents: z
			.number()
			.int()
			.min(1)
			.max(100_000)
			.default(50)
			.describe(optionMeta({description: 'Agents to work on (load-agent-0001 …), created when missing', valueDescription: 'n', defaultValueDescription: '50'})),
		heartbeatInterval: durationOption('How often to publish the heartbeat (service "msdb load") to the fleet (0: none)', '5s'),
		maxInFlight: z
			.number()
			.int()
			.min(1)
			.max(10_000)
			.default(64)
			.describe(optionMeta({description: 'Most operations running at once; operations due beyond it are dropped and counted', valueDescription: 'n', defaultValueDescription: '64'})),
		seedOnly: z.boolean().default(false).describe(optionMeta({description: 'Create the agents and the messages partitions, then stop'})),
	}),
	async run({options}, context) {
		const [{runLoad}, {resolvePoolsConfig}, {resolveRedisConfig}, {parseDuration}] = await Promise.all([
			import('../../core/load/run-load.js'),
			import('../../core/pools/pool-config.js'),
			import('../../core/redis/redis-config.js'),
			import('../../core/duration.js'),
		]);
		const forScripts = options.json || !process.stdout.isTTY;
		const summary = await runLoad(
			{
				pools: resolvePoolsConfig({databaseUrl: options.databaseUrl}, context.env),
				redis: resolveRedisConfig({redisUrl: options.redisUrl}, context.env),
				env: context.env,
				ratePerSecond: options.rate,
				durationMs: parseDuration(options.duration) ?? 0,
				agents: options.agents,
				heartbeatIntervalMs: parseDuration(options.heartbeatInterval) ?? 0,
				maxInFlight: options.maxInFlight,
				reportIntervalMs: forScripts ? SCRIPT_REPORT_INTERVAL_MS : CONSOLE_REPORT_INTERVAL_MS,
				seedOnly: options.seedOnly,
			},
			{signal: context.signal, onEvent: context.onEvent},
		);
		return {exitCode: 0, json: summary, human: describe(summary)};
	},
});

function describe(summary: LoadSummary): OutputBlock[] {
	const seeded = text(
		`${summary.seed.agents} load agent(s) (${summary.seed.created} created this run)` +
			(summary.seed.partitionsCreated.length > 0 ? `; messages partition(s) created: ${summary.seed.partitionsCreated.join(', ')}` : ''),
		'muted',
	);
	if (summary.stoppedBy === 'seed-only') {
		return [seeded, text('✔ seeded; no load generated (--seed-only)', 'success')];
	}

	const kinds = Object.entries(summary.operations);
	const {totals, rate, cache, heartbeat} = summary;
	const blocks: OutputBlock[] = [
		seeded,
		table(
			['OPERATION', 'WEIGHT', 'COUNT', 'OPS/S', 'ERRORS', 'IDLE', 'P50', 'P99', 'MAX'],
			kinds.map(([kind, operation]) => [
				kind,
				String(operation.weight),
				String(operation.count),
				String(operation.opsPerSecond),
				String(operation.errors),
				String(operation.idle),
				formatLatency(operation.p50Ms, '≤'),
				formatLatency(operation.p99Ms, '≤'),
				formatLatency(operation.maxMs, ''),
			]),
			kinds.map(([, operation]) => (operation.errors > 0 ? 'warning' : undefined)),
		),
	];
	for (const [kind, operation] of kinds) {
		if (operation.lastError) {
			blocks.push(text(`${kind}: last error: ${operation.lastError}`, 'warning'));
		}
	}

	blocks.push(
		text(
			`${totals.operations} operations in ${(summary.elapsedMs / 1000).toFixed(1)} s: ${rate.achieved} ops/s (target ${rate.target === 0 ? 'as fast as possible' : rate.target}), ` +
				`${totals.errors} error(s), peak ${totals.peakInFlight} of ${totals.maxInFlight} in flight`,
		),
	);
	if (totals.dropped > 0 || totals.late > 0) {
		blocks.push(
			text(
				`! the target rate was not delivered: ${totals.dropped} operation(s) dropped (all ${totals.maxInFlight} slots busy: the servers could not keep up), ${totals.late} started late (the generator fell behind)`,
				'warning',
			),
		);
	}

	if (cache) {
		blocks.push(
			text(
				`cache "${cache.namespace}": hit ratio ${cache.hitRatio === null ? '-' : `${(cache.hitRatio * 100).toFixed(1)}%`} ` +
					`(${cache.l1Hits} L1, ${cache.l2Hits} L2 hits of ${cache.reads} reads; ${cache.loads} loads from PostgreSQL` +
					(cache.l2Unavailable > 0 ? `; ${cache.l2Unavailable} L2 reads without an answer fell back to PostgreSQL` : '') +
					')',
				cache.l2Unavailable > 0 ? 'warning' : undefined,
			),
		);
	}

	if (heartbeat) {
		blocks.push(
			text(
				`heartbeat "${heartbeat.service}" (${heartbeat.instanceId}, env ${summary.env}): ${heartbeat.published} published` +
					(heartbeat.failures > 0 ? `, ${heartbeat.failures} failed (${heartbeat.lastError ?? '?'})` : ''),
				heartbeat.failures > 0 ? 'warning' : 'muted',
			),
		);
	}

	blocks.push(text(`✔ stopped (${summary.stoppedBy === 'duration' ? 'duration reached' : 'signal'})`, 'success'));
	return blocks;
}

function formatLatency(ms: number | null, prefix: string): string {
	if (ms === null) {
		return '-';
	}

	return `${prefix}${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}
