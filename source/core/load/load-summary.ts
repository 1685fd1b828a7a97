import type {OperationKind} from './workload-mix.js';

/** One operation kind over a whole run. */
export type OperationSummary = {
	/** Its weight in the mix. */
	weight: number;
	/** Operations of this kind that ran (failed ones included). */
	count: number;
	/** Of them, failed (a Redis or PostgreSQL error, a timeout): counted, never fatal. */
	errors: number;
	/** Of them, found nothing to do: a claim on an empty queue, a session that had just ended. */
	idle: number;
	/** count / the run's seconds. */
	opsPerSecond: number;
	/** Latency of every operation, failed ones included (a timeout is what the client waited), ms, estimated from histogram buckets; null before any. */
	p50Ms: number | null;
	p99Ms: number | null;
	maxMs: number | null;
	/** The last error's message (redacted); null when none failed. */
	lastError: string | null;
};

/** What the agent reads saw of the multi-level cache. */
export type LoadCacheSummary = {
	namespace: string;
	/** Reads (getOrLoad calls). */
	reads: number;
	l1Hits: number;
	l2Hits: number;
	/** Loader calls: reads neither level could answer (PostgreSQL was asked). */
	loads: number;
	/** (L1 + L2 hits) / reads; null before any read. */
	hitRatio: number | null;
	/** L2 reads that got no answer (Redis down or slow): those fell back to PostgreSQL. */
	l2Unavailable: number;
};

/** What `runLoad` returns (and `msdb load --json` prints). */
export type LoadSummary = {
	/** The `<env>` of the Redis keys (MSDB_ENV). */
	env: string;
	/** ISO times of the load phase (after seeding). */
	startedAt: string;
	stoppedAt: string;
	/** From the first operation to the stop, ms (the drain of the operations still running at the stop is not counted). */
	elapsedMs: number;
	/** Why it ended: the duration ran out, a signal (Ctrl-C, SIGTERM), or --seed-only. */
	stoppedBy: 'duration' | 'signal' | 'seed-only';
	seed: {agents: number; created: number; partitionsCreated: string[]};
	rate: {
		/** Operations per second asked for; 0 = as fast as maxInFlight allows. */
		target: number;
		/** Operations per second delivered over the load phase. */
		achieved: number;
	};
	totals: {
		operations: number;
		errors: number;
		idle: number;
		/** Due while maxInFlight operations were running: never started (the server could not keep up). */
		dropped: number;
		/** Started more than 100 ms after they were due (the generator itself fell behind). */
		late: number;
		maxInFlight: number;
		peakInFlight: number;
	};
	/** Per kind, in mix order; kinds with weight 0 are left out. */
	operations: Partial<Record<OperationKind, OperationSummary>>;
	/** null with --seed-only (no cache was used). */
	cache: LoadCacheSummary | null;
	/** null when no heartbeat was published (--heartbeat-interval 0, --seed-only). */
	heartbeat: {service: string; instanceId: string; intervalMs: number; published: number; failures: number; lastError: string | null} | null;
};
