import {FLEET_REDIS_ROLE} from '../fleet/fleet-redis-role.js';
import type pg from 'pg';
import {backendPid, cancelBackend} from '../database/cancel-backend.js';
import {asMsdbError} from '../errors.js';
import {HeartbeatPublisher} from '../fleet/heartbeat-publisher.js';
import type {PoolsConfig} from '../pools/pool-config.js';
import {DatabasePools} from '../pools/database-pools.js';
import {redact} from '../redact.js';
import {keyEnvironment} from '../redis/key-names.js';
import type {RedisConfig, RedisRole} from '../redis/redis-config.js';
import {RedisConnections} from '../redis/redis-connections.js';
import {AgentStateEventPublisher} from '../dual-store/agent-state-events.js';
import {AGENT_STATE_REDIS_ROLE} from '../dual-store/agent-state-layout.js';
import {OutboxRelay} from '../dual-store/outbox-relay.js';
import {stateOutboxDuty, stateWriteBehindDuty, type RelayCountsTarget} from '../dual-store/state-relay-duties.js';
import {DEFAULT_CLAIM_IDLE_MS, WriteBehindWriter} from '../dual-store/write-behind-writer.js';
import type {StatusEvent} from '../status-event.js';
import {nextDelayMs, pause} from './duty-schedule.js';
import {DEFAULT_MONTHS_AHEAD, partitionUpkeepDuty} from './partition-upkeep.js';
import {sessionCleanupDuty} from './session-cleanup.js';
import type {DutyName, DutyOutcome, WorkerDuty} from './worker-duty.js';

/** Defaults of `msdb worker`'s options. */
export const WORKER_DEFAULTS = {
	/** Partitions are made months ahead: hourly is plenty, and cheap when nothing is missing. */
	partitionIntervalMs: 3_600_000,
	/** Expired sessions should not linger (a lookup by token must not find them), nor pile up. */
	sessionCleanupIntervalMs: 60_000,
	monthsAhead: DEFAULT_MONTHS_AHEAD,
	heartbeatIntervalMs: 5000,
	/** How long a duty running at shutdown may go on before its statement is cancelled. */
	shutdownGraceMs: 10_000,
	/**
	 * The state relays (outbox, write-behind) drain everything each run, then wait this long:
	 * the write-behind lag, and so what a redis-first write can lose with Redis, is about this.
	 */
	stateRelayIntervalMs: 100,
	writeBehindClaimIdleMs: DEFAULT_CLAIM_IDLE_MS,
} as const;

/** The Redis role the worker's heartbeat goes to: fleet state sits with the framework's pub/sub. */
export const WORKER_HEARTBEAT_ROLE: RedisRole = FLEET_REDIS_ROLE;

/** The service name the worker publishes its heartbeat under. */
export const WORKER_SERVICE = 'msdb worker';

export type WorkerOptions = {
	/** The pools; duties use the `background` role (`application_name = msdb:background`). */
	pools: PoolsConfig;
	/** Where to publish the heartbeat; undefined publishes none. */
	redis?: RedisConfig | undefined;
	/** For MSDB_ENV (the heartbeat's key environment). */
	env?: NodeJS.ProcessEnv;
	partitionIntervalMs?: number;
	sessionCleanupIntervalMs?: number;
	monthsAhead?: number;
	/** 0 publishes no heartbeat. */
	heartbeatIntervalMs?: number;
	sessionBatchSize?: number;
	shutdownGraceMs?: number;
	/**
	 * The agent-state relays (outbox relay, write-behind writer; they need `redis`) run every
	 * this many ms; 0 turns them off. They idle until the database has agents.state_outbox.
	 */
	stateRelayIntervalMs?: number;
	/** How long a stopped writer's write-behind entries must be idle before they are claimed. */
	writeBehindClaimIdleMs?: number;
	/** Put agents.state back into a Redis that lost it (default true). */
	stateRewarm?: boolean;
	/** Run each duty once, then return (cron, tests); no heartbeat. */
	once?: boolean;
};

export type WorkerContext = {
	/** Stops the worker (SIGTERM, Ctrl-C): no new runs; a running one finishes or is cancelled after the grace period. */
	signal: AbortSignal;
	onEvent?: (event: StatusEvent) => void;
};

/** What one duty did over the worker's life. */
export type DutySummary = {
	intervalMs: number;
	/** Runs started: completed + failed + skipped + cancelled. */
	runs: number;
	completed: number;
	failed: number;
	/** Another worker held the duty's lock: it was doing the work. */
	skipped: number;
	/** Cancelled at shutdown after the grace period. */
	cancelled: number;
	lastRunAt: string | null;
	/** The last failure's message (redacted); null when the last run did not fail. */
	lastError: string | null;
} & Omit<DutyOutcome, 'news'>;

/** What `runWorker` returns (and `msdb worker --json` prints) when it stops. */
export type WorkerSummary = {
	startedAt: string;
	stoppedAt: string;
	once: boolean;
	duties: Record<DutyName, DutySummary>;
	heartbeat: {enabled: boolean; instanceId: string | null; published: number; failures: number; lastError: string | null};
};

/**
 * The background process of the framework (`msdb worker`): each duty on its own interval, each
 * under its advisory lock, none ever overlapping itself (a duty's next run is scheduled only
 * after the previous one ended). A failing duty is reported and retried with backoff; it never
 * stops the worker or the other duty. The heartbeat is best effort: a Redis outage costs the
 * fleet view, not the PostgreSQL duties.
 *
 * Stopping (the signal): no new runs start; a run in progress finishes (session cleanup stops
 * between batches) or, after `shutdownGraceMs`, has its statement cancelled on the server; then
 * the heartbeat is withdrawn, the pools are closed and the summary returned.
 */
export async function runWorker(options: WorkerOptions, context: WorkerContext): Promise<WorkerSummary> {
	const startedAt = new Date().toISOString();
	const once = options.once === true;
	const say = (message: string) => context.onEvent?.({type: 'status', message: redact(message)});
	const duties: Array<{duty: WorkerDuty; intervalMs: number}> = [
		{duty: partitionUpkeepDuty({monthsAhead: options.monthsAhead ?? WORKER_DEFAULTS.monthsAhead}), intervalMs: options.partitionIntervalMs ?? WORKER_DEFAULTS.partitionIntervalMs},
		{duty: sessionCleanupDuty({batchSize: options.sessionBatchSize}), intervalMs: options.sessionCleanupIntervalMs ?? WORKER_DEFAULTS.sessionCleanupIntervalMs},
	];
	// One set of Redis connections for the heartbeat and the state relays. ioredis says why a
	// connection failed only in its error events; keep the last reason for the reports.
	const heartbeatWanted = !once && options.redis !== undefined && (options.heartbeatIntervalMs ?? WORKER_DEFAULTS.heartbeatIntervalMs) > 0;
	const relayIntervalMs = options.redis ? (options.stateRelayIntervalMs ?? WORKER_DEFAULTS.stateRelayIntervalMs) : 0;
	const redisState = {lastError: undefined as string | undefined};
	const connections =
		options.redis && (heartbeatWanted || relayIntervalMs > 0)
			? new RedisConnections(options.redis, {
					connectionName: 'msdb:worker',
					onError(_role, error) {
						redisState.lastError = error.message;
					},
				})
			: undefined;
	const relays = connections && relayIntervalMs > 0 ? startStateRelays(options, connections, say) : undefined;
	if (relays) {
		duties.push({duty: stateOutboxDuty(relays.relay, relays.counts), intervalMs: relayIntervalMs}, {duty: stateWriteBehindDuty(relays.writer, relays.counts), intervalMs: relayIntervalMs});
	}

	const summaries = Object.fromEntries(duties.map(({duty, intervalMs}) => [duty.name, emptySummary(duty.name, intervalMs)])) as Record<DutyName, DutySummary>;
	const pools = new DatabasePools(options.pools, {
		onError: (role, error) => say(`${role} pool: an idle connection failed: ${error.message}`),
	});

	// After the grace period a run still going is cancelled on the server.
	const hardStop = new AbortController();
	const graceMs = options.shutdownGraceMs ?? WORKER_DEFAULTS.shutdownGraceMs;
	let graceTimer: NodeJS.Timeout | undefined;
	const onStop = () => {
		say(`stopping: no new runs; a run in progress may finish within ${formatMs(graceMs)}, then its statement is cancelled`);
		graceTimer = setTimeout(() => hardStop.abort(), graceMs);
	};

	context.signal.addEventListener('abort', onStop, {once: true});

	const heartbeat = heartbeatWanted && connections ? startHeartbeat(options, pools, connections, redisState, say) : undefined;
	say(
		`worker started: ${duties.map(({duty, intervalMs}) => `${duty.name} every ${formatMs(intervalMs)}`).join(', ')}; ` +
			(once ? 'once' : heartbeat ? `heartbeat every ${formatMs(heartbeat.publisher.intervalMs)} as ${heartbeat.publisher.instanceId}` : 'no heartbeat'),
	);
	try {
		await Promise.all(
			duties.map(async ({duty, intervalMs}) => {
				const summary = summaries[duty.name];
				let consecutiveFailures = 0;
				const state = {standingBy: false};
				for (;;) {
					if (context.signal.aborted) {
						return;
					}

					const ok = await runDuty(duty, summary, {pools, stopping: context.signal, hardStop: hardStop.signal, say, state, get retries() {
						return !once && !context.signal.aborted;
					}, backoff: () => nextDelayMs(intervalMs, consecutiveFailures + 1)});
					consecutiveFailures = ok ? 0 : consecutiveFailures + 1;
					if (once) {
						return;
					}

					await pause(nextDelayMs(intervalMs, consecutiveFailures), context.signal);
				}
			}),
		);
	} finally {
		context.signal.removeEventListener('abort', onStop);
		clearTimeout(graceTimer);
		if (heartbeat) {
			await heartbeat.publisher.stop();
		}

		if (relays) {
			await relays.writer.retire();
			await relays.events.close();
		}

		await connections?.close();

		await pools.close();
	}

	const status = heartbeat?.publisher.status();
	const summary: WorkerSummary = {
		startedAt,
		stoppedAt: new Date().toISOString(),
		once,
		duties: summaries,
		heartbeat: {
			enabled: heartbeat !== undefined,
			instanceId: heartbeat?.publisher.instanceId ?? null,
			published: status?.published ?? 0,
			failures: status?.failures ?? 0,
			lastError: status?.lastError ?? null,
		},
	};
	say(`worker stopped: ${duties.map(({duty}) => describeTotals(duty.name, summaries[duty.name])).join('; ')}`);
	return summary;
}

type RunContext = {
	pools: DatabasePools;
	stopping: AbortSignal;
	hardStop: AbortSignal;
	say: (message: string) => void;
	/** False when this is the last run (--once, or stopping). */
	readonly retries: boolean;
	/** The delay after this run if it fails, for the message. */
	backoff: () => number;
	/** Carried from run to run of one duty. */
	state: {standingBy: boolean};
};

/** One run of one duty under its advisory lock. Never throws: the outcome goes into `summary`. Returns false when it failed. */
async function runDuty(duty: WorkerDuty, summary: DutySummary, context: RunContext): Promise<boolean> {
	summary.runs++;
	summary.lastRunAt = new Date().toISOString();
	try {
		const outcome = await context.pools.withClient('background', async client => {
			const cancel = () => {
				const pid = backendPid(client as pg.Client);
				if (pid !== undefined) {
					context.say(`${duty.name}: still running after the grace period; cancelling its statement`);
					void cancelBackend(context.pools.config.roles.background.database, pid);
				}
			};

			if (context.hardStop.aborted) {
				return 'cancelled' as const;
			}

			context.hardStop.addEventListener('abort', cancel, {once: true});
			try {
				return await underLock(client, duty, context);
			} finally {
				context.hardStop.removeEventListener('abort', cancel);
			}
		});
		if (outcome === 'skipped') {
			summary.skipped++;
			// Said when it starts standing by, not on every interval.
			if (!context.state.standingBy) {
				context.state.standingBy = true;
				context.say(`${duty.name}: another worker holds its lock (advisory lock ${duty.lockKey}) and does this duty; this one stands by`);
			}

			return true;
		}

		if (context.state.standingBy && outcome !== 'cancelled') {
			context.state.standingBy = false;
			context.say(`${duty.name}: took over (the other worker released the lock)`);
		}

		if (outcome === 'cancelled') {
			summary.cancelled++;
			return true;
		}

		summary.completed++;
		summary.lastError = null;
		addOutcome(summary, outcome);
		if (outcome.news) {
			context.say(outcome.news);
		}

		return true;
	} catch (error) {
		if (context.hardStop.aborted && (error as {code?: unknown}).code === '57014') {
			summary.cancelled++;
			context.say(`${duty.name}: cancelled at shutdown; it runs again when a worker next starts`);
			return true;
		}

		summary.failed++;
		summary.lastError = describeFailure(error);
		context.say(`${duty.name}: failed: ${summary.lastError}${context.retries ? ` — retrying in ${formatApproximately(context.backoff())}` : ''}`);
		return false;
	}
}

/**
 * Session-level lock around the whole run (a transaction-level one would be released by the
 * first of session cleanup's per-batch commits). Released before the connection goes back to
 * the pool; if the connection breaks, the server releases it with the session.
 */
async function underLock(client: pg.ClientBase, duty: WorkerDuty, context: RunContext): Promise<DutyOutcome | 'skipped'> {
	const locked = await client.query<{locked: boolean}>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [duty.lockKey]);
	if (!locked.rows[0]?.locked) {
		return 'skipped';
	}

	try {
		return await duty.run({client, stopping: context.stopping, report: context.say});
	} finally {
		await client.query('SELECT pg_advisory_unlock($1::bigint)', [duty.lockKey]);
	}
}

function addOutcome(summary: DutySummary, outcome: DutyOutcome): void {
	if (outcome.partitionsCreated) {
		summary.partitionsCreated = [...(summary.partitionsCreated ?? []), ...outcome.partitionsCreated];
	}

	if (outcome.sessionsDeleted !== undefined) {
		summary.sessionsDeleted = (summary.sessionsDeleted ?? 0) + outcome.sessionsDeleted;
	}

	for (const field of ['changesRelayed', 'repairs', 'entriesPersisted', 'entriesClaimed'] as const) {
		const value = outcome[field];
		if (value !== undefined) {
			summary[field] = (summary[field] ?? 0) + value;
		}
	}
}

/** SQLSTATEs that mean the framework's schema is not there (or not all of it). */
const MISSING_SCHEMA_SQLSTATES = new Set(['3F000', '42P01', '42883']);

function describeFailure(error: unknown): string {
	const code = (error as {code?: unknown}).code;
	const message = redact(error instanceof Error && typeof code === 'string' ? error.message : asMsdbError(error).message);
	return typeof code === 'string' && MISSING_SCHEMA_SQLSTATES.has(code)
		? `${message} (SQLSTATE ${code}: is the framework's schema applied? \`msdb migrate apply\`)`
		: typeof code === 'string' && /^[\dA-Z]{5}$/.test(code)
			? `${message} (SQLSTATE ${code})`
			: message;
}

function startHeartbeat(
	options: WorkerOptions,
	pools: DatabasePools,
	connections: RedisConnections,
	redisState: {lastError: string | undefined},
	say: (message: string) => void,
): {publisher: HeartbeatPublisher} {
	const intervalMs = options.heartbeatIntervalMs ?? WORKER_DEFAULTS.heartbeatIntervalMs;
	// Said once per outage: the publisher retries every interval, and a line per retry is noise.
	let reportedAtPublished = -1;
	const publisher: HeartbeatPublisher = new HeartbeatPublisher({
		client: connections.client(WORKER_HEARTBEAT_ROLE),
		env: keyEnvironment(options.env ?? process.env),
		service: WORKER_SERVICE,
		intervalMs,
		sources: {pools: () => pools.stats(), redis: () => connections.commandStats()},
		onError(error) {
			const {published} = publisher.status();
			if (published !== reportedAtPublished) {
				reportedAtPublished = published;
				// A publish refused while disconnected says "max retries per request", which explains nothing.
				const reason = error.name === 'MaxRetriesPerRequestError' ? `not connected${redisState.lastError ? ` (${redisState.lastError})` : ''}` : error.message;
				say(`heartbeat: cannot publish to ${options.redis?.endpoints[WORKER_HEARTBEAT_ROLE].display ?? 'Redis'}: ${reason} (PostgreSQL duties go on; retrying every ${formatMs(intervalMs)})`);
			}
		},
	});
	publisher.start();
	return {publisher};
}

/**
 * The agent-state relays on the agent-state Redis role, with the change-event publisher they
 * share (the Redis events stream, and NATS JetStream when NATS_URL is set).
 */
function startStateRelays(
	options: WorkerOptions,
	connections: RedisConnections,
	say: (message: string) => void,
): {relay: OutboxRelay; writer: WriteBehindWriter; events: AgentStateEventPublisher; counts: RelayCountsTarget} {
	const processEnv = options.env ?? process.env;
	const env = keyEnvironment(processEnv);
	const redis = connections.client(AGENT_STATE_REDIS_ROLE);
	const events = new AgentStateEventPublisher({redis, env, natsUrl: processEnv.NATS_URL, onError: error => say(`state events: ${error.message}`)});
	return {
		relay: new OutboxRelay({redis, env, events, rewarm: options.stateRewarm}),
		writer: new WriteBehindWriter({redis, env, events, claimIdleMs: options.writeBehindClaimIdleMs ?? WORKER_DEFAULTS.writeBehindClaimIdleMs}),
		events,
		counts: {redis, env},
	};
}

function emptySummary(name: DutyName, intervalMs: number): DutySummary {
	const extra: Record<DutyName, Partial<DutySummary>> = {
		'partition-upkeep': {partitionsCreated: []},
		'session-cleanup': {sessionsDeleted: 0},
		'state-outbox': {changesRelayed: 0, repairs: 0},
		'state-write-behind': {entriesPersisted: 0, entriesClaimed: 0},
	};
	return {intervalMs, runs: 0, completed: 0, failed: 0, skipped: 0, cancelled: 0, lastRunAt: null, lastError: null, ...extra[name]};
}

function describeTotals(name: DutyName, summary: DutySummary): string {
	const extras: Record<DutyName, string> = {
		'partition-upkeep': `${summary.partitionsCreated?.length ?? 0} partition(s) created`,
		'session-cleanup': `${summary.sessionsDeleted ?? 0} session(s) deleted`,
		'state-outbox': `${summary.changesRelayed ?? 0} change(s) relayed, ${summary.repairs ?? 0} repair(s)`,
		'state-write-behind': `${summary.entriesPersisted ?? 0} entr(ies) persisted, ${summary.entriesClaimed ?? 0} claimed`,
	};
	return `${name} ${summary.completed}/${summary.runs} run(s) ok${summary.failed > 0 ? `, ${summary.failed} failed` : ''}${summary.skipped > 0 ? `, ${summary.skipped} skipped` : ''}, ${extras[name]}`;
}

/** `2 min`, `1.9 h`: a jittered delay, rounded for reading. */
function formatApproximately(ms: number): string {
	if (ms < 1000) {
		return `${ms} ms`;
	}

	if (ms < 90_000) {
		return `${Math.round(ms / 1000)} s`;
	}

	return ms < 5_400_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 3_600_000).toFixed(1)} h`;
}

/** `1h`, `90s`, `250ms`: intervals as people write them. */
export function formatMs(ms: number): string {
	for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['min', 60_000], ['s', 1000]] as const) {
		if (ms >= size && ms % size === 0) {
			return `${ms / size}${unit}`;
		}
	}

	return `${ms}ms`;
}
