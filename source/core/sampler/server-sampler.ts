/**
 * The console's one source of live gauges: a PostgreSQL sampler and a Redis sampler run side by
 * side, and every poll of either yields a combined snapshot.
 *
 * Why two samplers and not one poll that asks both servers: each side keeps its own schedule and
 * backoff. A PostgreSQL that hangs for its 5 s statement timeout does not freeze the Redis
 * gauges, and a Redis that is down is retried ever more slowly while PostgreSQL keeps its 2 s
 * refresh. One failing side never hides the other: its sample is null and its error (redacted)
 * is in `errors`.
 */
import type {DatabaseConfig} from '../config/database-config.js';
import {redact} from '../redact.js';
import type {RedisEndpoint} from '../redis/redis-config.js';
import {PostgresSampler} from './postgres-sampler.js';
import type {PostgresSample} from './postgres-sample.js';
import {RedisSampler} from './redis-sampler.js';
import type {RedisSample} from './redis-sample.js';
import type {Sampler, SamplerEvent} from './sampler.js';
import {notifyListeners} from './notify-listeners.js';

/** What the console shows at one moment. */
export type ServerSnapshot = {
	/** The latest PostgreSQL sample; null before the first, while the last poll failed, or when not configured. */
	postgres: PostgresSample | null;
	redis: RedisSample | null;
	/** Why a side is null, credentials masked (absent when that side is fine or not configured). */
	errors: {postgres?: string; redis?: string};
	/** When this snapshot was made (after a poll of either side). */
	takenAt: Date;
};

/** Receives every {@link ServerSnapshot}. */
export type ServerSnapshotListener = (snapshot: ServerSnapshot) => void;

/** What to watch; a side left out is reported as null without an error. */
export type ServerSamplerOptions = {
	database?: DatabaseConfig;
	redis?: RedisEndpoint;
	/** Default 2000 ms, for both sides. */
	intervalMs?: number;
	/** Default 30 000 ms, per side. */
	maxBackoffMs?: number;
	/** Clock for `takenAt`. */
	now?: () => Date;
};

/** PostgreSQL and Redis gauges together, each side polled and backed off on its own. */
export class ServerSampler {
	/** The PostgreSQL side (undefined when no database was given), for per-side events. */
	readonly postgres: PostgresSampler | undefined;
	/** The Redis side (undefined when no endpoint was given). */
	readonly redis: RedisSampler | undefined;
	readonly #now: () => Date;
	readonly #listeners = new Set<ServerSnapshotListener>();
	#latest: ServerSnapshot;

	constructor(options: ServerSamplerOptions) {
		const common = {intervalMs: options.intervalMs, maxBackoffMs: options.maxBackoffMs, now: options.now};
		this.#now = options.now ?? (() => new Date());
		this.postgres = options.database ? new PostgresSampler({...common, database: options.database}) : undefined;
		this.redis = options.redis ? new RedisSampler({...common, endpoint: options.redis}) : undefined;
		this.#latest = {postgres: null, redis: null, errors: {}, takenAt: this.#now()};
		this.postgres?.subscribe(event => this.#update('postgres', event));
		this.redis?.subscribe(event => this.#update('redis', event));
	}

	/** The latest snapshot (both sides null before the first poll). */
	get latest(): ServerSnapshot {
		return this.#latest;
	}

	/** The pause between polls, ms (the same on both sides). */
	get intervalMs(): number {
		return this.#sides()[0]?.intervalMs ?? 0;
	}

	/** True while paused. */
	get paused(): boolean {
		return this.#sides().some(side => side.paused);
	}

	/** Starts both sides; each polls at once. */
	start(): void {
		for (const side of this.#sides()) {
			side.start();
		}
	}

	/** Stops both sides, waiting for their polls in flight, and closes their connections. */
	async stop(): Promise<void> {
		await Promise.all(this.#sides().map(async side => side.stop()));
	}

	/** Pauses both sides (the console's space key). */
	pause(): void {
		for (const side of this.#sides()) {
			side.pause();
		}
	}

	/** Resumes both sides; each polls at once. */
	resume(): void {
		for (const side of this.#sides()) {
			side.resume();
		}
	}

	/** Changes both sides' interval (the console's `+`/`-`). */
	setInterval(intervalMs: number): void {
		for (const side of this.#sides()) {
			side.setInterval(intervalMs);
		}
	}

	/** Calls `listener` with a new snapshot after every poll of either side; returns the unsubscribe. */
	subscribe(listener: ServerSnapshotListener): () => void {
		const entry: ServerSnapshotListener = snapshot => listener(snapshot);
		this.#listeners.add(entry);
		return () => {
			this.#listeners.delete(entry);
		};
	}

	#sides(): Array<Sampler<PostgresSample> | Sampler<RedisSample>> {
		return [this.postgres, this.redis].filter(side => side !== undefined);
	}

	#update<K extends 'postgres' | 'redis'>(side: K, event: SamplerEvent<NonNullable<ServerSnapshot[K]>>): void {
		const errors = {...this.#latest.errors};
		let sample: ServerSnapshot[K] | null;
		if (event.type === 'sample') {
			sample = event.sample;
			delete errors[side];
		} else {
			sample = null;
			errors[side] = redact(event.error.message);
		}

		this.#latest = {...this.#latest, [side]: sample, errors, takenAt: this.#now()};
		notifyListeners(this.#listeners, this.#latest);
	}
}
