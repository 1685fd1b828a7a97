import {ActionableError} from './errors.js';

/**
 * Cancellation (Ctrl-C, SIGTERM from a deploy system, a closed console): long operations take
 * an AbortSignal, stop between steps, and cancel the statement running on the server, so
 * nothing keeps running, or holding locks, after msdb has given up.
 */

/** The error every cancelled operation ends with; `outcome` says what was kept and what was not. */
export function cancelledError(outcome: string, nextStep = 'Run the command again when you are ready.'): ActionableError {
	return new ActionableError('E_CANCELLED', `Cancelled. ${outcome}`, {nextStep});
}

/** Throws {@link cancelledError} when the signal has fired. */
export function throwIfCancelled(signal: AbortSignal | undefined, outcome: string): void {
	if (signal?.aborted) {
		throw cancelledError(outcome);
	}
}
