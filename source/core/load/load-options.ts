import {ActionableError} from '../errors.js';
import type {PoolsConfig} from '../pools/pool-config.js';
import type {RedisConfig} from '../redis/redis-config.js';
import {DEFAULT_WORKLOAD_MIX, type WorkloadMix} from './workload-mix.js';

/** What {@link runLoad} takes; everything but the connections has a default. */
export type LoadOptions = {
	/** The pools: writes go to `primary`, reads through `read()` (the replica when one is configured). */
	pools: PoolsConfig;
	/** Redis: the cache on the `cache` role, sessions on `sessions`, the heartbeat on `pubsub`. */
	redis: RedisConfig;
	/** For MSDB_ENV, the `<env>` of every Redis key (cache, sessions, heartbeat). */
	env?: NodeJS.ProcessEnv;
	/** Operations per second, open loop (default 100); 0 = as fast as maxInFlight allows. */
	ratePerSecond?: number;
	/** Stop after this long, ms; 0 or undefined = until the signal aborts. */
	durationMs?: number;
	/** Agents the load works on (`load-agent-0001` …), created when missing (default 50). */
	agents?: number;
	/** Most operations running at once; more due at once are dropped and counted (default 64). */
	maxInFlight?: number;
	/** Heartbeat publish interval, ms (default 5000); 0 publishes none. */
	heartbeatIntervalMs?: number;
	/** How often the live throughput line is sent, ms (default 1000). */
	reportIntervalMs?: number;
	/** Create the agents (and the messages partitions), then return without running load. */
	seedOnly?: boolean;
	/** Kinds and weights (default {@link DEFAULT_WORKLOAD_MIX}). */
	mix?: WorkloadMix;
};

/** LoadOptions with the defaults filled in and checked. */
export type ResolvedLoadOptions = Required<Omit<LoadOptions, 'durationMs' | 'env'>> & {durationMs: number; env: NodeJS.ProcessEnv};

/** The defaults of `msdb load`'s options. */
export const LOAD_DEFAULTS = {
	ratePerSecond: 100,
	agents: 50,
	/**
	 * Several times the primary pool (10 by default): enough to keep the pool busy and to show
	 * its waiting queue when the server slows, small enough that a stalled server costs a bounded
	 * number of pending operations.
	 */
	maxInFlight: 64,
	heartbeatIntervalMs: 5000,
	reportIntervalMs: 1000,
} as const;

/** The service name of the load generator's heartbeat in the fleet. */
export const LOAD_SERVICE = 'msdb load';

/** Most agents a run may create: a typo (`--agents 5000000`) must not fill the table. */
const MAX_AGENTS = 100_000;

/** Fills in defaults; refuses values that cannot work with E_BAD_ARGUMENT (exit 2). */
export function resolveLoadOptions(options: LoadOptions): ResolvedLoadOptions {
	const resolved: ResolvedLoadOptions = {
		pools: options.pools,
		redis: options.redis,
		env: options.env ?? process.env,
		ratePerSecond: options.ratePerSecond ?? LOAD_DEFAULTS.ratePerSecond,
		durationMs: options.durationMs ?? 0,
		agents: options.agents ?? LOAD_DEFAULTS.agents,
		maxInFlight: options.maxInFlight ?? LOAD_DEFAULTS.maxInFlight,
		heartbeatIntervalMs: options.heartbeatIntervalMs ?? LOAD_DEFAULTS.heartbeatIntervalMs,
		reportIntervalMs: options.reportIntervalMs ?? LOAD_DEFAULTS.reportIntervalMs,
		seedOnly: options.seedOnly ?? false,
		mix: options.mix ?? DEFAULT_WORKLOAD_MIX,
	};
	check(Number.isFinite(resolved.ratePerSecond) && resolved.ratePerSecond >= 0, 'rate', resolved.ratePerSecond, 'a number of operations per second ≥ 0 (0: as fast as --max-in-flight allows)');
	check(Number.isFinite(resolved.durationMs) && resolved.durationMs >= 0, 'duration', resolved.durationMs, 'a duration ≥ 0');
	check(Number.isSafeInteger(resolved.agents) && resolved.agents >= 1 && resolved.agents <= MAX_AGENTS, 'agents', resolved.agents, `a whole number from 1 to ${MAX_AGENTS}`);
	check(Number.isSafeInteger(resolved.maxInFlight) && resolved.maxInFlight >= 1 && resolved.maxInFlight <= 10_000, 'max-in-flight', resolved.maxInFlight, 'a whole number from 1 to 10000');
	check(Number.isFinite(resolved.heartbeatIntervalMs) && resolved.heartbeatIntervalMs >= 0, 'heartbeat-interval', resolved.heartbeatIntervalMs, 'a duration ≥ 0 (0: no heartbeat)');
	check(Number.isFinite(resolved.reportIntervalMs) && resolved.reportIntervalMs >= 100, 'report-interval', resolved.reportIntervalMs, 'at least 100 ms');
	return resolved;
}

function check(ok: boolean, option: string, value: unknown, expected: string): void {
	if (!ok) {
		throw new ActionableError('E_BAD_ARGUMENT', `--${option} is ${JSON.stringify(value)}; it must be ${expected}.`, {
			nextStep: `Run msdb load with a valid --${option}.`,
			details: {option, value},
		});
	}
}
