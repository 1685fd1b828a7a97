/**
 * A {@link Sampler} of PostgreSQL gauges on a dedicated connection of its own.
 *
 * Why its own connection rather than one from a pool: it stays open for as long as the console
 * does, is named `msdb:sampler` in pg_stat_activity so a DBA knows what it is, and its backend
 * pid is what every figure leaves out. After any failure it is closed and a new one is opened at
 * the next poll (the sampler's backoff spaces those attempts out).
 */
import type pg from 'pg';
import type {DatabaseConfig} from '../config/database-config.js';
import {connectDatabase} from '../database/connect.js';
import {POSTGRES_SAMPLER_SESSION_SQL} from './postgres-sampler-queries.js';
import {takePostgresSample, type PostgresSample} from './postgres-sample.js';
import {ConnectionSampler, type PollingOptions, type SampleConnection} from './connection-sampler.js';

/** application_name of the sampler's connection. */
export const POSTGRES_SAMPLER_APPLICATION_NAME = 'msdb:sampler';

/** How a {@link PostgresSampler} connects and polls. */
export type PostgresSamplerOptions = PollingOptions & {
	database: DatabaseConfig;
	/** Deadline of one connection attempt (default 5000 ms). */
	connectTimeoutMs?: number;
};

/** Polls one PostgreSQL server; `stop()` also closes its connection. */
export class PostgresSampler extends ConnectionSampler<PostgresSample> {
	constructor(options: PostgresSamplerOptions) {
		super(new SamplerConnection(options.database, options.connectTimeoutMs ?? 5000), options);
	}
}

class SamplerConnection implements SampleConnection<PostgresSample> {
	readonly #database: DatabaseConfig;
	readonly #connectTimeoutMs: number;
	#client: pg.Client | undefined;
	// Kept across reconnects: the counters are the server's, not the session's.
	#previous: PostgresSample | undefined;

	constructor(database: DatabaseConfig, connectTimeoutMs: number) {
		this.#database = database;
		this.#connectTimeoutMs = connectTimeoutMs;
	}

	async take(signal: AbortSignal): Promise<PostgresSample> {
		// stop() must not wait for a slow server: ending the connection fails the statement at once.
		const onAbort = (): void => {
			void this.close();
		};
		signal.addEventListener('abort', onAbort, {once: true});
		try {
			this.#client ??= await this.#connect();
			const sample = await takePostgresSample(this.#client, this.#previous);
			this.#previous = sample;
			return sample;
		} catch (error) {
			// The session may be broken (terminated, timed out mid-protocol): start afresh next time.
			await this.close();
			throw error;
		} finally {
			signal.removeEventListener('abort', onAbort);
		}
	}

	async close(): Promise<void> {
		const client = this.#client;
		this.#client = undefined;
		await client?.end().catch(() => {});
	}

	async #connect(): Promise<pg.Client> {
		const client = await connectDatabase(this.#database, {
			applicationName: POSTGRES_SAMPLER_APPLICATION_NAME,
			connectTimeoutMs: this.#connectTimeoutMs,
		});
		try {
			await client.query(POSTGRES_SAMPLER_SESSION_SQL);
		} catch (error) {
			await client.end().catch(() => {});
			throw error;
		}

		return client;
	}
}
