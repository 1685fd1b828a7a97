import {z} from 'zod';
import type {WorkerSummary} from '../../core/worker/run-worker.js';
import {defineCommand} from '../command-definition.js';
import {durationOption, globalOptions} from '../global-options.js';
import {optionMeta} from '../option-meta.js';
import {table, text, type OutputBlock} from '../output-blocks.js';

/**
 * `msdb worker`: the framework's background process — monthly partition upkeep, expired-session
 * cleanup, the agent-state relays (outbox, write-behind), its own heartbeat — until SIGTERM or
 * Ctrl-C (exit 0 after a clean stop), or once with `--once` (exit 1 when a duty failed). Progress
 * is one stderr line per event.
 */
export const worker = defineCommand({
	path: ['worker'],
	description: 'Run background duties (partition upkeep, expired-session cleanup, agent-state relays) with a heartbeat, until SIGTERM; --once runs each once',
	options: z.object({
		...globalOptions,
		// Defaults kept in sync with WORKER_DEFAULTS in core; repeated as literals so parsing
		// options never loads the worker.
		partitionInterval: durationOption('How often to make sure the monthly partitions of messages.messages exist', '1h'),
		sessionCleanupInterval: durationOption('How often to delete expired rows of sessions.sessions', '1min'),
		monthsAhead: z
			.number()
			.int()
			.min(0)
			.max(120)
			.default(3)
			.describe(optionMeta({description: 'Months after the current one whose partitions are kept ready', valueDescription: 'n', defaultValueDescription: '3'})),
		heartbeatInterval: durationOption('How often to publish the heartbeat to Redis (0: none)', '5s'),
		stateRelayInterval: durationOption('Pause between drains of the agent-state outbox and write-behind streams (0: do not run them)', '100ms'),
		writeBehindClaimIdle: durationOption('How long write-behind entries of a stopped writer must be idle before this worker claims them', '5s'),
		shutdownGrace: durationOption('On SIGTERM, how long a running duty may finish before its statement is cancelled', '10s'),
		once: z.boolean().default(false).describe(optionMeta({description: 'Run each duty once and exit (for cron); no heartbeat'})),
	}),
	async run({options}, context) {
		const [{runWorker}, {resolvePoolsConfig}, {resolveRedisConfig}, {parseDuration}, {ActionableError}] = await Promise.all([
			import('../../core/worker/run-worker.js'),
			import('../../core/pools/pool-config.js'),
			import('../../core/redis/redis-config.js'),
			import('../../core/duration.js'),
			import('../../core/errors.js'),
		]);
		const interval = (flag: string, value: string) => {
			const ms = parseDuration(value) ?? 0;
			if (ms === 0) {
				throw new ActionableError('E_BAD_ARGUMENT', `--${flag} must be longer than 0.`, {nextStep: `Pass a duration such as 30s or 1h to --${flag}.`});
			}

			return ms;
		};

		const summary = await runWorker(
			{
				pools: resolvePoolsConfig({databaseUrl: options.databaseUrl}, context.env),
				redis: resolveRedisConfig({redisUrl: options.redisUrl}, context.env),
				env: context.env,
				partitionIntervalMs: interval('partition-interval', options.partitionInterval),
				sessionCleanupIntervalMs: interval('session-cleanup-interval', options.sessionCleanupInterval),
				monthsAhead: options.monthsAhead,
				heartbeatIntervalMs: parseDuration(options.heartbeatInterval) ?? 0,
				stateRelayIntervalMs: parseDuration(options.stateRelayInterval) ?? 0,
				writeBehindClaimIdleMs: parseDuration(options.writeBehindClaimIdle) ?? 0,
				shutdownGraceMs: parseDuration(options.shutdownGrace) ?? 0,
				once: options.once,
			},
			{signal: context.signal, onEvent: context.onEvent},
		);
		const failed = Object.values(summary.duties).some(duty => duty.failed > 0);
		// Run once (cron), a failed duty is the run's failure; a long-running worker reported and
		// retried its failures, and a clean stop is a success.
		return {exitCode: summary.once && failed ? 1 : 0, json: summary, human: describe(summary)};
	},
});

function describeDone(duty: WorkerSummary['duties'][keyof WorkerSummary['duties']]): string {
	if (duty.partitionsCreated !== undefined) {
		return `${duty.partitionsCreated.length} partition(s) created`;
	}

	if (duty.changesRelayed !== undefined) {
		return `${duty.changesRelayed} change(s) relayed, ${duty.repairs ?? 0} repair(s)`;
	}

	if (duty.entriesPersisted !== undefined) {
		return `${duty.entriesPersisted} entr(ies) persisted, ${duty.entriesClaimed ?? 0} claimed`;
	}

	return `${duty.sessionsDeleted ?? 0} session(s) deleted`;
}

function describe(summary: WorkerSummary): OutputBlock[] {
	const entries = Object.entries(summary.duties);
	const blocks: OutputBlock[] = [
		table(
			['DUTY', 'RUNS', 'OK', 'FAILED', 'SKIPPED', 'DONE', 'LAST ERROR'],
			entries.map(([name, duty]) => [
				name,
				String(duty.runs),
				String(duty.completed),
				String(duty.failed),
				String(duty.skipped),
				describeDone(duty),
				duty.lastError ?? '',
			]),
			entries.map(([, duty]) => (duty.lastError ? 'error' : undefined)),
		),
	];
	const {heartbeat} = summary;
	blocks.push(
		heartbeat.enabled
			? text(`heartbeat ${heartbeat.instanceId ?? ''}: ${heartbeat.published} published, ${heartbeat.failures} failed${heartbeat.lastError ? ` (last: ${heartbeat.lastError})` : ''}`, heartbeat.failures > 0 ? 'warning' : 'muted')
			: text('no heartbeat', 'muted'),
	);
	return blocks;
}
