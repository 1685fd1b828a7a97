import {asMsdbError, type ErrorCode} from '../errors.js';
import {redact} from '../redact.js';
import type {HealthCheck} from './health-check-types.js';

/** Why a family of checks could not finish. */
export type CheckFailure = {
	/** Masked; says what happened (`no answer within 10 s`, the error's message). */
	message: string;
	/** From the error when it carried one (an ActionableError's next step). */
	nextStep: string | undefined;
	timedOut: boolean;
	/** The error's stable code; undefined for a timeout. */
	code: ErrorCode | undefined;
};

/**
 * One or more checks that share a probe (a listing, a connection) and so succeed or fail
 * together when the probe itself cannot finish.
 */
export type CheckFamily = {
	/** Runs the probe; should stop and release what it holds when `signal` fires. */
	run(signal: AbortSignal): Promise<HealthCheck[]>;
	/** The family's checks when `run` threw or did not answer in time. */
	failed(failure: CheckFailure): HealthCheck[];
};

/**
 * Runs a family under a deadline. A check that hangs (a server that accepts the connection and
 * never answers, an S3 endpoint behind a black hole) becomes a failed check at the deadline,
 * so the report always arrives and always names what is wrong. The work is told to stop via
 * the signal; whatever it still holds is released when it notices.
 */
export async function runGuarded(family: CheckFamily, options: {timeoutMs: number; signal: AbortSignal}): Promise<HealthCheck[]> {
	const controller = new AbortController();
	const stop = () => controller.abort();
	options.signal.addEventListener('abort', stop, {once: true});
	let timer: NodeJS.Timeout | undefined;
	const deadline = new Promise<'timeout'>(resolve => {
		timer = setTimeout(() => resolve('timeout'), options.timeoutMs);
	});
	const work = family.run(controller.signal);
	// The work may reject after the deadline won; that rejection is already reported as the timeout.
	work.catch(() => {});
	try {
		const outcome = await Promise.race([work, deadline]);
		if (outcome === 'timeout') {
			controller.abort();
			return family.failed({message: `no answer within ${formatSeconds(options.timeoutMs)}`, nextStep: undefined, timedOut: true, code: undefined});
		}

		return outcome;
	} catch (error) {
		const failure = asMsdbError(error);
		return family.failed({message: redact(failure.message), nextStep: failure.isBug ? undefined : failure.nextStep, timedOut: false, code: failure.code});
	} finally {
		clearTimeout(timer);
		options.signal.removeEventListener('abort', stop);
	}
}

/** Milliseconds since `started` (performance.now()), rounded to 0.01 ms. */
export function elapsedMs(started: number): number {
	return Math.round((performance.now() - started) * 100) / 100;
}

function formatSeconds(ms: number): string {
	return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
