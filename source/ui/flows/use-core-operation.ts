import {useCallback, useEffect, useRef, useState} from 'react';
import {asMsdbError, type MsdbError} from '../../core/errors.js';

/** Where a core operation run from a flow stands. */
export type OperationStatus = 'idle' | 'running' | 'done' | 'failed' | 'cancelled';

/** What a flow hands the core: its event listener and the signal that cancels it. */
export type OperationIo<E> = {onEvent: (event: E) => void; signal: AbortSignal};

/** The state of one run, and the means to start and cancel it. */
export type CoreOperation<E, R, V> = {
	status: OperationStatus;
	/** The operation's events folded into what the screen draws. */
	view: V;
	result: R | undefined;
	/** Set when the run failed or was cancelled (E_CANCELLED says what was kept). */
	error: MsdbError | undefined;
	/** True from `cancel()` until the core has stopped: the screen says it is stopping. */
	cancelling: boolean;
	/** Starts a run; any earlier run's state is dropped (and that run cancelled). */
	start: (run: (io: OperationIo<E>) => Promise<R>) => void;
	/** Asks the core to stop: it cancels the running statement and rolls back what it can. */
	cancel: () => void;
	/** Back to idle, e.g. after showing a failure and going back to the review. */
	reset: () => void;
};

/**
 * Runs a core function (apply, rollback, reset, backup) from a flow: feeds its events through
 * `fold` into React state, keeps an AbortController so esc can cancel it, and cancels it when the
 * flow unmounts, so nothing keeps running on the server after the person has left the screen.
 * Events from a run that has been replaced or reset are ignored.
 */
export function useCoreOperation<E, R, V>(fold: (view: V, event: E) => V, initial: V): CoreOperation<E, R, V> {
	const [status, setStatus] = useState<OperationStatus>('idle');
	const [view, setView] = useState<V>(initial);
	const [result, setResult] = useState<R>();
	const [error, setError] = useState<MsdbError>();
	const [cancelling, setCancelling] = useState(false);
	const controller = useRef<AbortController | undefined>(undefined);
	const runId = useRef(0);
	// The controller of the run still in progress; cleared when it settles, so a late esc on a
	// summary screen does not claim to be cancelling anything.
	const running = useRef<AbortController | undefined>(undefined);
	const foldRef = useRef(fold);
	foldRef.current = fold;
	const initialRef = useRef(initial);
	initialRef.current = initial;

	useEffect(
		() => () => {
			runId.current++;
			controller.current?.abort();
		},
		[],
	);

	// A new run and a reset both start from nothing: no progress, result or error of the run before.
	const showBlank = (next: OperationStatus) => {
		setStatus(next);
		setView(initialRef.current);
		setResult(undefined);
		setError(undefined);
		setCancelling(false);
	};

	const start = useCallback((run: (io: OperationIo<E>) => Promise<R>) => {
		controller.current?.abort();
		const id = ++runId.current;
		const current = new AbortController();
		controller.current = current;
		running.current = current;
		showBlank('running');
		const isCurrent = () => runId.current === id;
		const settle = () => {
			if (running.current === current) {
				running.current = undefined;
			}
		};

		let promise: Promise<R>;
		try {
			promise = run({
				signal: current.signal,
				onEvent(event) {
					if (isCurrent()) {
						setView(previous => foldRef.current(previous, event));
					}
				},
			});
		} catch (thrown) {
			promise = Promise.reject(thrown);
		}

		promise.then(
			value => {
				settle();
				if (isCurrent()) {
					setResult(value);
					setStatus('done');
					setCancelling(false);
				}
			},
			(thrown: unknown) => {
				settle();
				if (isCurrent()) {
					const failure = asMsdbError(thrown);
					setError(failure);
					setStatus(failure.code === 'E_CANCELLED' ? 'cancelled' : 'failed');
					setCancelling(false);
				}
			},
		);
	}, []);

	const cancel = useCallback(() => {
		if (running.current && !running.current.signal.aborted) {
			setCancelling(true);
			running.current.abort();
		}
	}, []);

	const reset = useCallback(() => {
		runId.current++;
		controller.current?.abort();
		controller.current = undefined;
		running.current = undefined;
		showBlank('idle');
	}, []);

	return {status, view, result, error, cancelling, start, cancel, reset};
}

/** For operations whose events the screen does not draw. */
export function ignoreFold<V>(view: V): V {
	return view;
}
