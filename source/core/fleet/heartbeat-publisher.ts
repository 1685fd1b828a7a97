/**
 * Publishes what this process is doing (pools, cache levels, Redis commands, version, host) into
 * Redis every few seconds, so `readFleet()`, `msdb metrics` and the console's pool and cache
 * panels can show every live process of the framework, not just their own.
 *
 * Liveness is the TTL: a snapshot expires 3 intervals after it was written, so a process that
 * crashed (or lost Redis) drops out of the fleet on its own, while one missed publish (a GC pause,
 * a slow command) does not make it flicker. A clean `stop()` deletes the snapshot at once.
 *
 * The host process must never suffer for its heartbeat: a failed publish (Redis down, a source
 * that throws) is counted and handed to `onError`, never thrown; publishes never overlap (the
 * next is scheduled only after the previous finished), so a dead Redis costs at most one pending
 * command; the timer is unref'd, so it does not keep the process alive.
 *
 * Key layout and why: fleet-keyspace.ts.
 */
import {randomBytes} from 'node:crypto';
import {hostname} from 'node:os';
import type {CacheStats} from '../cache/cache-stats.js';
import {ActionableError} from '../errors.js';
import type {PoolsStats} from '../pools/pool-stats.js';
import {redact} from '../redact.js';
import {keyEnvironment} from '../redis/key-names.js';
import {LuaScript} from '../redis/lua-script.js';
import type {RedisClient} from '../redis/redis-client.js';
import type {RedisCommandStats} from '../redis/redis-command-stats.js';
import {toolVersion} from '../tool-version.js';
import {checkInstanceId, FleetKeyspace} from './fleet-keyspace.js';
import type {HeartbeatSnapshot} from './heartbeat-snapshot.js';
import {cacheHeartbeatOf, poolHeartbeatsOf, redisRoleHeartbeatOf} from './heartbeat-snapshot-of.js';

/** Where the snapshot's figures come from; each is called once per publish. */
export type HeartbeatSources = {
	/** The process's PostgreSQL pools (e.g. `() => pools.stats()`); undefined when it has none. */
	pools?: () => PoolsStats | undefined;
	/** Every cache instance of the process (e.g. `() => [cache.stats()]`). */
	caches?: () => CacheStats[];
	/** Redis command counters per role (e.g. `() => connections.commandStats()`). */
	redis?: () => RedisCommandStats[];
};

/** What to publish, where and how often. */
export type HeartbeatPublisherOptions = {
	/** Where to publish; any role's client (a Cluster too). Its command deadline bounds each publish. */
	client: RedisClient;
	/** The `<env>` of key names (default MSDB_ENV, else `dev`). */
	env?: string;
	/** What the process is (`agent-runtime`, `msdb worker` …), shown and grouped by in the console. */
	service: string;
	/** How often to publish (default 5000 ms); the snapshot lives 3 intervals. */
	intervalMs?: number;
	sources: HeartbeatSources;
	/** Default `<host>:<pid>:<random>`, unique per start. */
	instanceId?: string;
	/** Told about each failed publish or failing source (the message may need `redact()` before logging). */
	onError?: (error: Error) => void;
};

/** How publishing has gone so far. */
export type HeartbeatPublisherStatus = {
	/** Between start() and stop(). */
	running: boolean;
	/** Snapshots written. */
	published: number;
	/** Publishes (and the delete on stop) that failed; none of them was thrown. */
	failures: number;
	/** Sources that threw; the snapshot went out without their part. */
	sourceErrors: number;
	/** The last failure's message, redacted. */
	lastError: string | undefined;
	/** ISO time of the last snapshot written. */
	lastPublishedAt: string | undefined;
};

/** Default publish interval, ms. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5000;

/** A snapshot lives this many intervals: one or two late publishes do not drop an instance. */
export const HEARTBEAT_TTL_INTERVALS = 3;

// Server time, so index scores (expiry times) and the keys' PX expiry agree whatever the clocks
// of the publishing hosts say. Scripts that call TIME before writing need effects replication,
// the default since Redis 5. The index lives as long as its longest-lived entry.
const PUBLISH = new LuaScript(
	'msdb:fleet:publish',
	`local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], string.format('%.0f', now + ttl), ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now))
if redis.call('PTTL', KEYS[2]) < ttl then
	redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1`,
);

const LEAVE = new LuaScript(
	'msdb:fleet:leave',
	`redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1`,
);

/** Publishes this process's heartbeat snapshot on an interval (see the file comment). */
export class HeartbeatPublisher {
	/** This process's id in the fleet. */
	readonly instanceId: string;
	readonly intervalMs: number;
	/** The snapshot's lifetime: 3 × intervalMs. */
	readonly ttlMs: number;
	readonly #client: RedisClient;
	readonly #service: string;
	readonly #sources: HeartbeatSources;
	readonly #onError: ((error: Error) => void) | undefined;
	readonly #key: string;
	readonly #indexKey: string;
	readonly #host = hostname();
	readonly #startedAt = new Date(performance.timeOrigin).toISOString();
	#running = false;
	// Set by stop(): a publish after it would bring the deleted snapshot back.
	#stopped = false;
	// Bumped by start() and stop(), so a loop of an earlier start() ends instead of running twice.
	#generation = 0;
	#timer: NodeJS.Timeout | undefined;
	// The last publish queued or running; the next one starts after it (no overlap).
	#current: Promise<boolean> = Promise.resolve(false);
	// A publish queued but not started yet; callers of publishNow() meanwhile share it.
	#next: Promise<boolean> | undefined;
	#published = 0;
	#failures = 0;
	#sourceErrors = 0;
	#lastError: string | undefined;
	#lastPublishedAt: string | undefined;

	constructor(options: HeartbeatPublisherOptions) {
		if (typeof options.service !== 'string' || options.service.trim() === '') {
			throw invalid('service', options.service, 'a non-empty name of what the process is');
		}

		const intervalMs = options.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
		if (!Number.isFinite(intervalMs) || intervalMs < 1) {
			throw invalid('intervalMs', intervalMs, 'a number of milliseconds ≥ 1');
		}

		const keyspace = new FleetKeyspace(options.env ?? keyEnvironment());
		this.instanceId = options.instanceId === undefined ? defaultInstanceId() : checkInstanceId(options.instanceId);
		this.intervalMs = intervalMs;
		this.ttlMs = Math.ceil(intervalMs * HEARTBEAT_TTL_INTERVALS);
		this.#client = options.client;
		this.#service = options.service;
		this.#sources = options.sources;
		this.#onError = options.onError;
		this.#key = keyspace.instance(this.instanceId);
		this.#indexKey = keyspace.indexKey;
	}

	/** Publishes now, then every intervalMs until stop(). Calling it while running does nothing. */
	start(): void {
		if (this.#running) {
			return;
		}

		this.#running = true;
		this.#stopped = false;
		const generation = ++this.#generation;
		const loop = async (): Promise<void> => {
			this.#timer = undefined;
			await this.publishNow();
			if (this.#running && this.#generation === generation) {
				this.#timer = setTimeout(() => void loop(), this.intervalMs);
				this.#timer.unref();
			}
		};

		void loop();
	}

	/**
	 * Stops publishing and deletes the snapshot, so the instance leaves the fleet at once. Waits
	 * for a publish in flight first (so it cannot land after the delete). Never throws: when Redis
	 * is unreachable the snapshot simply expires after its TTL.
	 */
	async stop(): Promise<void> {
		this.#running = false;
		this.#stopped = true;
		this.#generation++;
		clearTimeout(this.#timer);
		this.#timer = undefined;
		await withinMs(this.#current, this.ttlMs);
		try {
			await LEAVE.run(this.#client, [this.#key, this.#indexKey], [this.instanceId]);
		} catch (error) {
			this.#failed(error);
		}
	}

	/**
	 * Publishes one snapshot now (also without start(), for one-shot processes). Resolves to
	 * whether it was written; never rejects. After stop() it does nothing until start().
	 */
	publishNow(): Promise<boolean> {
		if (this.#next) {
			return this.#next;
		}

		const next = this.#current.then(async () => {
			this.#next = undefined;
			return this.#publishOnce();
		});
		this.#next = next;
		this.#current = next;
		return next;
	}

	/** Counters of publishing so far. */
	status(): HeartbeatPublisherStatus {
		return {
			running: this.#running,
			published: this.#published,
			failures: this.#failures,
			sourceErrors: this.#sourceErrors,
			lastError: this.#lastError,
			lastPublishedAt: this.#lastPublishedAt,
		};
	}

	/** The snapshot as it would be published now. */
	snapshot(): HeartbeatSnapshot {
		const sources = this.#sources;
		return {
			format: 1,
			instanceId: this.instanceId,
			service: this.#service,
			host: this.#host,
			pid: process.pid,
			version: toolVersion(),
			startedAt: this.#startedAt,
			publishedAt: new Date().toISOString(),
			intervalMs: this.intervalMs,
			pools: this.#read(sources.pools, stats => poolHeartbeatsOf(stats)),
			caches: this.#read(sources.caches, stats => stats.map(cache => cacheHeartbeatOf(cache))),
			redis: this.#read(sources.redis, stats => stats.map(role => redisRoleHeartbeatOf(role))),
		};
	}

	async #publishOnce(): Promise<boolean> {
		if (this.#stopped) {
			return false;
		}

		try {
			const snapshot = this.snapshot();
			await PUBLISH.run(this.#client, [this.#key, this.#indexKey], [JSON.stringify(snapshot), this.ttlMs, this.instanceId]);
			this.#published++;
			this.#lastPublishedAt = snapshot.publishedAt;
			return true;
		} catch (error) {
			this.#failed(error);
			return false;
		}
	}

	/** One source's part of the snapshot; a source that throws contributes nothing this time. */
	#read<T, R>(source: (() => T) | undefined, convert: (value: T) => R[]): R[] {
		if (!source) {
			return [];
		}

		try {
			return convert(source());
		} catch (error) {
			this.#sourceErrors++;
			this.#report(error);
			return [];
		}
	}

	#failed(error: unknown): void {
		this.#failures++;
		this.#report(error);
	}

	#report(error: unknown): void {
		const asError = error instanceof Error ? error : new Error(String(error));
		this.#lastError = redact(asError.message);
		try {
			this.#onError?.(asError);
		} catch {
			// A throwing listener must not turn into a failure of the host's heartbeat loop.
		}
	}
}

/** `<host>:<pid>:<random>`: readable in the console, unique per start even when pids are reused. */
function defaultInstanceId(): string {
	const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 60) || 'host';
	return `${host}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

function invalid(name: string, value: unknown, expected: string): ActionableError {
	return new ActionableError('E_CONFIG_INVALID', `HeartbeatPublisher option ${name} is ${JSON.stringify(value)}; it must be ${expected}.`, {
		nextStep: `Fix ${name} where the HeartbeatPublisher is created.`,
		details: {option: name},
	});
}

/** Waits for `promise`, at most `ms`; never rejects. */
async function withinMs(promise: Promise<unknown>, ms: number): Promise<void> {
	let timer: NodeJS.Timeout | undefined;
	try {
		await Promise.race([
			promise.catch(() => {}),
			new Promise<void>(resolve => {
				timer = setTimeout(resolve, ms);
			}),
		]);
	} finally {
		clearTimeout(timer);
	}
}
