/**
 * `msdb load`: a workload generator that drives the data layer through the core library the way
 * a framework service does (the pools, the multi-level cache, the session store), at a paced
 * rate, for demos and benchmarks. While it runs it publishes a heartbeat (service `msdb load`)
 * with its pools, cache and Redis command counters, so the fleet, `msdb metrics` and the console
 * see its traffic like any other process's.
 *
 * Failures of single operations (a Redis outage, a PostgreSQL restart) are counted per kind and
 * the run goes on: that is what a demo of an outage needs to show. Only what makes the run
 * meaningless ends it: the schema missing (refused, exit 2) or PostgreSQL unreachable at start.
 */
import {FLEET_REDIS_ROLE} from '../fleet/fleet-redis-role.js';
import {MultiLevelCache} from '../cache/multi-level-cache.js';
import {HeartbeatPublisher} from '../fleet/heartbeat-publisher.js';
import {DatabasePools} from '../pools/database-pools.js';
import {redact} from '../redact.js';
import {keyEnvironment} from '../redis/key-names.js';
import type {RedisRole} from '../redis/redis-config.js';
import {RedisConnections} from '../redis/redis-connections.js';
import {RedisSessionStore} from '../sessions/redis-session-store.js';
import type {StatusEvent} from '../status-event.js';
import {LOAD_SERVICE, resolveLoadOptions, type LoadOptions, type ResolvedLoadOptions} from './load-options.js';
import {LoadMeter, round, type MeterReading} from './load-meter.js';
import {LOAD_SESSION_IDLE_TTL_MS, LoadWorkload} from './load-operations.js';
import type {LoadCacheSummary, LoadSummary} from './load-summary.js';
import {OpenLoopPacer, type PacerCounts} from './open-loop-pacer.js';
import {checkLoadSchema, seedLoad, type SeedResult} from './seed.js';
import {describeThroughput} from './throughput-line.js';
import {WorkloadPicker, type OperationKind} from './workload-mix.js';

/** How the caller stops the run and hears about it. */
export type LoadContext = {
	/** Stops the run (Ctrl-C, SIGTERM): no new operations; those running finish; then the summary. */
	signal?: AbortSignal;
	/** Status lines: `live` ones are the throughput line (one per reportIntervalMs), the others news. */
	onEvent?: (event: StatusEvent) => void;
};

/** The cache namespace of the agent reads: what a framework service caching agents would use. */
export const LOAD_CACHE_NAMESPACE = 'agents';

/** The heartbeat goes where the worker's does: fleet state sits with the framework's pub/sub. */
const HEARTBEAT_ROLE: RedisRole = FLEET_REDIS_ROLE;

/**
 * L1 entries live 2 s (L2 keeps the default 60 s): long enough that most reads are L1 hits, as
 * in a service, short enough that L2 sees steady traffic too, so every level's series move.
 */
const L1_TTL_MS = 2000;

/** Distinct error messages shown per kind; later ones are only counted (an outage is one story, not thousands of lines). */
const ERRORS_SHOWN_PER_KIND = 3;

/** Seeds, runs the workload until the duration ends or `signal` aborts, cleans up, and sums it up. */
export async function runLoad(options: LoadOptions, context: LoadContext = {}): Promise<LoadSummary> {
	const settings = resolveLoadOptions(options);
	const say = (message: string, live = false) => {
		context.onEvent?.(live ? {type: 'status', message: redact(message), live: true} : {type: 'status', message: redact(message)});
	};

	const env = keyEnvironment(settings.env);
	const pools = new DatabasePools(settings.pools);
	try {
		await checkLoadSchema(pools);
		const seed = await seedLoad(pools, settings.agents);
		say(
			`seeded: ${seed.agents} load agent(s) (${seed.created} created)` +
				(seed.partitionsCreated.length > 0 ? `, messages partition(s) ${seed.partitionsCreated.join(', ')} created` : ''),
		);
		if (settings.seedOnly) {
			const now = new Date().toISOString();
			return {...emptySummary(env, seed, settings), startedAt: now, stoppedAt: now};
		}

		return await generate(settings, pools, seed, env, say, context.signal);
	} finally {
		await pools.close();
	}
}

async function generate(
	settings: ResolvedLoadOptions,
	pools: DatabasePools,
	seed: SeedResult,
	env: string,
	say: (message: string, live?: boolean) => void,
	signal: AbortSignal | undefined,
): Promise<LoadSummary> {
	const connections = new RedisConnections(settings.redis, {connectionName: 'msdb:load'});
	const cache = new MultiLevelCache({
		redis: connections.client('cache'),
		subscriber: connections.subscriber('pubsub'),
		namespace: LOAD_CACHE_NAMESPACE,
		env,
		l1: {ttlMs: L1_TTL_MS},
	});
	const sessions = new RedisSessionStore(connections.client('sessions'), {env, idleTtlMs: LOAD_SESSION_IDLE_TTL_MS});
	let publisher: HeartbeatPublisher | undefined;
	try {
		await probeRedis(connections, say);
		publisher = startHeartbeat(settings, env, connections, pools, cache, say);
		const workload = new LoadWorkload({pools, cache, sessions, agentIds: seed.agentIds});
		const meter = new LoadMeter(settings.mix);
		const picker = new WorkloadPicker(settings.mix);
		const pacer = new OpenLoopPacer({ratePerSecond: settings.ratePerSecond, maxInFlight: settings.maxInFlight});
		const shown = new Map<OperationKind, Set<string>>();
		const operation = async () => {
			const kind = picker.pick();
			const started = performance.now();
			try {
				const idle = await workload.perform(kind);
				meter.done(kind, performance.now() - started, idle);
			} catch (error) {
				showError(shown, kind, meter.failed(kind, performance.now() - started, error), say);
			}
		};

		const stop = new AbortController();
		// Widened on purpose: the timer's callback sets it, which TypeScript's narrowing cannot see.
		let stoppedBy = 'signal' as LoadSummary['stoppedBy'];
		const onAbort = () => stop.abort();
		signal?.addEventListener('abort', onAbort, {once: true});
		if (signal?.aborted) {
			stop.abort();
		}

		const timer =
			settings.durationMs > 0
				? setTimeout(() => {
						stoppedBy = 'duration';
						stop.abort();
					}, settings.durationMs)
				: undefined;
		say(
			`load: ${settings.ratePerSecond === 0 ? 'as fast as possible' : `${settings.ratePerSecond} ops/s`} on ${seed.agents} agent(s), ` +
				`up to ${settings.maxInFlight} in flight, ${settings.durationMs > 0 ? `for ${formatMs(settings.durationMs)}` : 'until Ctrl-C / SIGTERM'}` +
				(publisher ? `; heartbeat as "${LOAD_SERVICE}" every ${formatMs(settings.heartbeatIntervalMs)} (env ${env})` : ''),
		);
		const reporter = startReporter(settings, meter, pacer, cache, say);
		const startedAt = new Date();
		const startedMs = performance.now();
		// Rates are over the time operations were being issued: the drain of the last ones (a
		// Redis command waiting out its deadline) is not time the generator was asked to load.
		let stoppedMs: number | undefined;
		stop.signal.addEventListener('abort', () => (stoppedMs = performance.now()), {once: true});
		let counts: PacerCounts;
		try {
			counts = await pacer.run(operation, stop.signal);
		} finally {
			clearTimeout(timer);
			clearInterval(reporter);
			signal?.removeEventListener('abort', onAbort);
		}

		const elapsedMs = (stoppedMs ?? performance.now()) - startedMs;
		const operations = meter.summaries(elapsedMs);
		const reading = meter.reading();
		const idle = Object.values(operations).reduce((sum, kind) => sum + kind.idle, 0);
		const heartbeatStatus = publisher?.status();
		say(`stopping (${stoppedBy === 'duration' ? 'duration reached' : 'signal'}): ${reading.operations} operation(s), ${reading.errors} error(s)`);
		return {
			env,
			startedAt: startedAt.toISOString(),
			stoppedAt: new Date().toISOString(),
			elapsedMs: Math.round(elapsedMs),
			stoppedBy,
			seed: {agents: seed.agents, created: seed.created, partitionsCreated: seed.partitionsCreated},
			rate: {target: settings.ratePerSecond, achieved: elapsedMs > 0 ? round(reading.operations / (elapsedMs / 1000)) : 0},
			totals: {
				operations: reading.operations,
				errors: reading.errors,
				idle,
				dropped: counts.dropped,
				late: counts.late,
				maxInFlight: settings.maxInFlight,
				peakInFlight: counts.peakInFlight,
			},
			operations,
			cache: cacheSummary(cache),
			heartbeat:
				publisher && heartbeatStatus
					? {
							service: LOAD_SERVICE,
							instanceId: publisher.instanceId,
							intervalMs: publisher.intervalMs,
							published: heartbeatStatus.published,
							failures: heartbeatStatus.failures,
							lastError: heartbeatStatus.lastError ?? null,
						}
					: null,
		};
	} finally {
		// Heartbeat first: it reads the cache and the pools, and its stop() removes this process
		// from the fleet at once instead of after three intervals.
		await publisher?.stop();
		await cache.close();
		await connections.close();
	}
}

/** A Redis that does not answer is not fatal (reads fall back to PostgreSQL), but worth saying before the errors start. */
async function probeRedis(connections: RedisConnections, say: (message: string) => void): Promise<void> {
	const health = await connections.health({roles: ['cache', 'sessions'], timeoutMs: 2000});
	for (const role of health) {
		if (!role.reachable) {
			say(
				`Redis (${role.role}) at ${role.endpoint} does not answer: ${role.error ?? 'unreachable'}. Going on: ` +
					(role.role === 'cache' ? 'agent reads fall back to PostgreSQL.' : 'session operations will count errors.'),
			);
		}
	}
}

function startHeartbeat(
	settings: ResolvedLoadOptions,
	env: string,
	connections: RedisConnections,
	pools: DatabasePools,
	cache: MultiLevelCache,
	say: (message: string) => void,
): HeartbeatPublisher | undefined {
	if (settings.heartbeatIntervalMs <= 0) {
		return undefined;
	}

	// Said once per outage: the publisher retries every interval, and a line per retry is noise.
	let reportedAtPublished = -1;
	const publisher: HeartbeatPublisher = new HeartbeatPublisher({
		client: connections.client(HEARTBEAT_ROLE),
		env,
		service: LOAD_SERVICE,
		intervalMs: settings.heartbeatIntervalMs,
		sources: {pools: () => pools.stats(), caches: () => [cache.stats()], redis: () => connections.commandStats()},
		onError(error) {
			const {published} = publisher.status();
			if (published !== reportedAtPublished) {
				reportedAtPublished = published;
				say(`heartbeat: cannot publish: ${error.message} (the load goes on; retrying every ${formatMs(settings.heartbeatIntervalMs)})`);
			}
		},
	});
	publisher.start();
	return publisher;
}

/** The live throughput line, every reportIntervalMs, with rates over the window since the last one. */
function startReporter(
	settings: ResolvedLoadOptions,
	meter: LoadMeter,
	pacer: OpenLoopPacer,
	cache: MultiLevelCache,
	say: (message: string, live?: boolean) => void,
): NodeJS.Timeout {
	let previous: MeterReading = meter.reading();
	let previousCache = cacheCounts(cache);
	const timer = setInterval(() => {
		const current = meter.reading();
		const currentCache = cacheCounts(cache);
		const reads = currentCache.reads - previousCache.reads;
		const counts = pacer.counts();
		say(
			describeThroughput({
				previous,
				current,
				targetRate: settings.ratePerSecond,
				cacheHitRatio: reads > 0 ? (currentCache.hits - previousCache.hits) / reads : undefined,
				inFlight: counts.inFlight,
				dropped: counts.dropped,
			}),
			true,
		);
		previous = current;
		previousCache = currentCache;
	}, settings.reportIntervalMs);
	timer.unref();
	return timer;
}

function cacheCounts(cache: MultiLevelCache): {reads: number; hits: number} {
	const {l1, l2} = cache.stats();
	return {reads: l1.hits + l1.misses, hits: l1.hits + l2.hits};
}

function cacheSummary(cache: MultiLevelCache): LoadCacheSummary {
	const stats = cache.stats();
	const reads = stats.l1.hits + stats.l1.misses;
	return {
		namespace: stats.namespace,
		reads,
		l1Hits: stats.l1.hits,
		l2Hits: stats.l2.hits,
		loads: stats.l3.loads,
		hitRatio: reads === 0 ? null : Math.round(((stats.l1.hits + stats.l2.hits) / reads) * 10_000) / 10_000,
		l2Unavailable: stats.l2.unavailable,
	};
}

function showError(shown: Map<OperationKind, Set<string>>, kind: OperationKind, message: string, say: (message: string) => void): void {
	let messages = shown.get(kind);
	if (!messages) {
		messages = new Set();
		shown.set(kind, messages);
	}

	if (messages.size > ERRORS_SHOWN_PER_KIND || messages.has(message)) {
		return;
	}

	messages.add(message);
	say(
		messages.size > ERRORS_SHOWN_PER_KIND
			? `${kind}: more errors; from now on they are only counted`
			: `${kind} failed: ${message} (counted; the load goes on)`,
	);
}

function emptySummary(env: string, seed: SeedResult, settings: ResolvedLoadOptions): Omit<LoadSummary, 'startedAt' | 'stoppedAt'> {
	return {
		env,
		elapsedMs: 0,
		stoppedBy: 'seed-only',
		seed: {agents: seed.agents, created: seed.created, partitionsCreated: seed.partitionsCreated},
		rate: {target: settings.ratePerSecond, achieved: 0},
		totals: {operations: 0, errors: 0, idle: 0, dropped: 0, late: 0, maxInFlight: settings.maxInFlight, peakInFlight: 0},
		operations: {},
		cache: null,
		heartbeat: null,
	};
}

/** `10s`, `1min`, `250ms`: durations as people write them. */
function formatMs(ms: number): string {
	for (const [unit, size] of [['h', 3_600_000], ['min', 60_000], ['s', 1000]] as const) {
		if (ms >= size && ms % size === 0) {
			return `${ms / size}${unit}`;
		}
	}

	return `${ms}ms`;
}
