/**
 * A {@link Sampler} of Redis gauges on a dedicated connection of its own, named `msdb:sampler`
 * (CLIENT SETNAME) so CLIENT LIST shows what it is; the sample leaves it out of the figures.
 *
 * ioredis reconnects by itself (create-redis-client.ts); a poll while it is away fails at its
 * command deadline and the sampler backs off. After every (re)connect the next sample starts
 * without a previous one: the handshake's own commands (AUTH, CLIENT SETNAME, the ready check's
 * INFO) would otherwise be counted as the server's work, and a restarted server's counters
 * started again.
 */
import {ActionableError, MsdbError} from '../errors.js';
import {redact} from '../redact.js';
import {createRedisClient} from '../redis/create-redis-client.js';
import type {RedisClient} from '../redis/redis-client.js';
import type {RedisEndpoint} from '../redis/redis-config.js';
import {takeRedisSample, type RedisSample} from './redis-sample.js';
import {ConnectionSampler, type PollingOptions, type SampleConnection} from './connection-sampler.js';

/** CLIENT SETNAME of the sampler's connection. */
export const REDIS_SAMPLER_CONNECTION_NAME = 'msdb:sampler';

/** How a {@link RedisSampler} connects and polls. */
export type RedisSamplerOptions = PollingOptions & {
	endpoint: RedisEndpoint;
	/** Deadline per command (default 2000 ms). */
	commandTimeoutMs?: number;
	/** Deadline of one connection attempt (default 2000 ms). */
	connectTimeoutMs?: number;
};

/** Polls one Redis deployment; `stop()` also closes its connection. */
export class RedisSampler extends ConnectionSampler<RedisSample> {
	constructor(options: RedisSamplerOptions) {
		super(new SamplerConnection(options), options);
	}
}

class SamplerConnection implements SampleConnection<RedisSample> {
	readonly #options: RedisSamplerOptions;
	#client: RedisClient | undefined;
	#previous: RedisSample | undefined;
	#lastConnectionError: string | undefined;

	constructor(options: RedisSamplerOptions) {
		this.#options = options;
	}

	async take(): Promise<RedisSample> {
		// Commands are bounded by their deadline, so a poll in flight ends soon enough for stop().
		this.#client ??= this.#open();
		try {
			const sample = await takeRedisSample(this.#client, this.#previous);
			this.#previous = sample;
			return sample;
		} catch (error) {
			throw this.#describe(error);
		}
	}

	async close(): Promise<void> {
		const client = this.#client;
		this.#client = undefined;
		if (!client) {
			return;
		}

		// QUIT when the server answers; a hard disconnect when it does not.
		await Promise.race([client.quit().catch(() => {}), new Promise(resolve => setTimeout(resolve, 500).unref())]);
		if (client.status !== 'end') {
			client.disconnect();
		}
	}

	#open(): RedisClient {
		const {client} = createRedisClient(this.#options.endpoint, {
			connectionName: REDIS_SAMPLER_CONNECTION_NAME,
			label: `sampler at ${this.#options.endpoint.display}`,
			commandTimeoutMs: this.#options.commandTimeoutMs ?? 2000,
			connectTimeoutMs: this.#options.connectTimeoutMs,
			// A poll waits for a connection at most its command deadline; a few polls' worth is plenty.
			maxOfflineQueue: 8,
		});
		client.on('ready', () => {
			this.#previous = undefined;
		});
		// Reconnect failures are reported by the polls that fail (see #describe); without a
		// listener ioredis would print each one to the console.
		client.on('error', (error: Error) => {
			this.#lastConnectionError = error.message;
		});
		client.on('ready', () => {
			this.#lastConnectionError = undefined;
		});
		return client;
	}

	/** An error that names the server and says why, instead of ioredis' retry-limit wording. */
	#describe(error: unknown): MsdbError {
		if (error instanceof MsdbError) {
			return error;
		}

		const display = this.#options.endpoint.display;
		// With maxRetriesPerRequest 0 a failed connection attempt fails the command with
		// "Reached the max retries per request limit", which hides the real cause.
		const reason =
			error instanceof Error && error.name !== 'MaxRetriesPerRequestError' ? error.message : 'the connection failed before the server answered';
		const cause = this.#lastConnectionError ? ` (last connection error: ${this.#lastConnectionError})` : '';
		return new ActionableError('E_REDIS_UNAVAILABLE', redact(`Cannot sample Redis at ${display}: ${reason}${cause}`), {
			nextStep: `Check that Redis is running and reachable at ${display}; sampling retries on its own.`,
			cause: error,
		});
	}
}
