/**
 * A {@link Sampler} that polls over a connection of its own (the PostgreSQL and Redis samplers).
 *
 * Why a shared base: each sampler owns one dedicated connection for as long as it polls, and
 * `stop()` must end the polling before closing it: closed first, a poll still scheduled would
 * open it again and leave a connection behind.
 */
import {Sampler, type SamplerOptions} from './sampler.js';

/** How often a {@link ConnectionSampler} polls and how it backs off: {@link SamplerOptions} but `take`. */
export type PollingOptions = Omit<SamplerOptions<unknown>, 'take'>;

/** The connection a {@link ConnectionSampler} polls over. */
export type SampleConnection<T> = {
	/** Takes one sample; `signal` fires when the sampler stops. */
	take(signal: AbortSignal): Promise<T>;
	/** Closes the connection; the next `take` (after a restart) opens a new one. */
	close(): Promise<void>;
};

/** Polls `connection`; `stop()` also closes it. */
export class ConnectionSampler<T> extends Sampler<T> {
	readonly #connection: SampleConnection<T>;

	constructor(connection: SampleConnection<T>, options: PollingOptions) {
		super({intervalMs: options.intervalMs, maxBackoffMs: options.maxBackoffMs, now: options.now, take: async signal => connection.take(signal)});
		this.#connection = connection;
	}

	/** Stops polling, then closes the connection. */
	override async stop(): Promise<void> {
		await super.stop();
		await this.#connection.close();
	}
}
