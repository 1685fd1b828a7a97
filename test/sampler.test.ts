/**
 * The scheduling of the generic Sampler: no overlapping polls, backoff, stop, pause, interval
 * changes, subscriptions. `take` is a plain function here because what is under test is when it
 * is called, not a service; the service samples are in sampler-services.test.ts.
 * Only counts and order are asserted, never durations.
 */
import {describe, expect, it} from 'vitest';
import {Sampler, type SamplerEvent} from '../source/core/sampler/index.js';

const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms));

/** Waits until `predicate` holds (polling), failing the test after a generous deadline. */
async function until(predicate: () => boolean, what: string): Promise<void> {
	for (let attempt = 0; attempt < 1000; attempt++) {
		if (predicate()) {
			return;
		}

		await sleep(5);
	}

	throw new Error(`timed out waiting for ${what}`);
}

/** A take whose calls the test resolves or rejects by hand. */
function manualTake<T>() {
	const calls: Array<{resolve: (value: T) => void; reject: (error: unknown) => void; signal: AbortSignal}> = [];
	const take = async (signal: AbortSignal): Promise<T> =>
		new Promise<T>((resolve, reject) => {
			calls.push({resolve, reject, signal});
		});
	return {calls, take};
}

function recorder<T>(sampler: Sampler<T>): SamplerEvent<T>[] {
	const events: SamplerEvent<T>[] = [];
	sampler.subscribe(event => events.push(event));
	return events;
}

describe('Sampler', () => {
	it('never starts a poll while one is in flight, even when polls are slower than the interval', async () => {
		let running = 0;
		let mostAtOnce = 0;
		let polls = 0;
		const sampler = new Sampler({
			intervalMs: 1,
			take: async () => {
				running++;
				mostAtOnce = Math.max(mostAtOnce, running);
				await sleep(15);
				running--;
				return ++polls;
			},
		});
		const events = recorder(sampler);
		sampler.start();
		sampler.start(); // a second start while running must not start a second chain
		await until(() => events.length >= 5, 'five samples');
		await sampler.stop();
		expect(mostAtOnce).toBe(1);
		expect(events.map(event => (event.type === 'sample' ? event.sample : 'error'))).toEqual(
			Array.from({length: events.length}, (_value, index) => index + 1),
		);
		expect(sampler.latest?.sample).toBe(events.length);
	});

	it('doubles the wait after each consecutive failure up to maxBackoffMs, and resets after a success', async () => {
		// Scripted outcomes, so the order does not depend on when the test looks.
		const script = ['fail', 'fail', 'fail', 'fail', 'fail', 'ok', 'fail', 'fail'];
		let call = 0;
		const sampler = new Sampler({
			intervalMs: 2,
			maxBackoffMs: 16,
			take: async () => {
				if ((script[call++] ?? 'ok') === 'fail') {
					throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {code: 'ECONNREFUSED'});
				}

				return 'ok';
			},
		});
		const events = recorder(sampler);
		sampler.start();
		await until(() => events.length >= script.length, 'the scripted polls');
		await sampler.stop();

		const retries = events.slice(0, script.length).map(event => (event.type === 'error' ? event.retryInMs : 'sample'));
		expect(retries).toEqual([4, 8, 16, 16, 16, 'sample', 4, 8]);
		const error = events[0];
		expect(error?.type === 'error' && error.error.code).toBe('E_SERVICE_UNAVAILABLE');
		// latest keeps the last success through later failures.
		expect(sampler.latest?.sample).toBe('ok');
	});

	it('stop() signals and waits for the poll in flight, and its result is not emitted', async () => {
		const {calls, take} = manualTake<string>();
		const sampler = new Sampler({intervalMs: 1, take});
		const events = recorder(sampler);
		sampler.start();
		await until(() => calls.length === 1, 'the first poll');
		let stopped = false;
		const stopping = sampler.stop().then(() => {
			stopped = true;
		});
		await sleep(20);
		expect(calls[0]?.signal.aborted).toBe(true);
		expect(stopped).toBe(false);
		calls[0]?.resolve('late');
		await stopping;
		expect(stopped).toBe(true);
		expect(events).toEqual([]);
		expect(sampler.running).toBe(false);
		await sleep(20);
		expect(calls).toHaveLength(1);
	});

	it('pause() stops scheduling (the poll in flight still reports) and resume() polls again at once', async () => {
		const {calls, take} = manualTake<number>();
		const sampler = new Sampler({intervalMs: 1, take});
		const events = recorder(sampler);
		sampler.start();
		await until(() => calls.length === 1, 'the first poll');
		sampler.pause();
		expect(sampler.paused).toBe(true);
		calls[0]?.resolve(1);
		await until(() => events.length === 1, 'the in-flight sample');
		await sleep(30);
		expect(calls).toHaveLength(1);
		sampler.resume();
		await until(() => calls.length === 2, 'a poll after resume');
		calls[1]?.resolve(2);
		await until(() => calls.length === 3, 'polling to carry on');
		const stopping = sampler.stop();
		calls[2]?.resolve(3);
		await stopping;
		expect(events.map(event => event.type === 'sample' && event.sample)).toEqual([1, 2]);
	});

	it('setInterval() re-aims the wait under way', async () => {
		let polls = 0;
		const sampler = new Sampler({intervalMs: 1, take: async () => ++polls});
		const events = recorder(sampler);
		sampler.start();
		await until(() => events.length >= 1, 'a sample');
		sampler.setInterval(10 * 60_000);
		const before = polls;
		await sleep(30);
		// At most the poll that was already running when the interval grew.
		expect(polls - before).toBeLessThanOrEqual(1);
		const waiting = polls;
		sampler.setInterval(1);
		expect(sampler.intervalMs).toBe(1);
		await until(() => polls >= waiting + 3, 'polling at the short interval again');
		await sampler.stop();
		expect(() => sampler.setInterval(0)).toThrow(/interval/);
		expect(() => sampler.setInterval(Number.NaN)).toThrow(/interval/);
	});

	it('subscribe() returns an unsubscribe; each subscription is independent', async () => {
		let polls = 0;
		const sampler = new Sampler({intervalMs: 1, take: async () => ++polls});
		const first: number[] = [];
		const second: number[] = [];
		const listener = (event: SamplerEvent<number>): void => {
			if (event.type === 'sample') {
				first.push(event.sample);
			}
		};

		const unsubscribeFirst = sampler.subscribe(listener);
		const unsubscribeTwice = sampler.subscribe(listener);
		sampler.subscribe(event => {
			if (event.type === 'sample') {
				second.push(event.sample);
			}
		});
		sampler.start();
		await until(() => second.length >= 2, 'two samples');
		unsubscribeFirst();
		unsubscribeTwice();
		unsubscribeTwice(); // idempotent
		const seen = first.length;
		const seenBySecond = second.length;
		await until(() => second.length >= seenBySecond + 2, 'two more samples');
		await sampler.stop();
		// The same function subscribed twice got each sample twice until both were removed.
		expect(seen % 2).toBe(0);
		expect(first.length).toBe(seen);
		expect(second.length).toBeGreaterThan(seenBySecond);
	});

	it('can be started again after stop()', async () => {
		let polls = 0;
		const sampler = new Sampler({intervalMs: 1, take: async () => ++polls, now: () => new Date(0)});
		const events = recorder(sampler);
		sampler.start();
		await until(() => events.length >= 1, 'a sample');
		await sampler.stop();
		const stoppedAt = events.length;
		sampler.start();
		await until(() => events.length > stoppedAt, 'a sample after restarting');
		await sampler.stop();
		expect(events.every(event => event.type === 'sample' && event.takenAt.getTime() === 0)).toBe(true);
	});
});
