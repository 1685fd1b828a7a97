import {useEffect, useRef} from 'react';
import {asMsdbError, type MsdbError} from '../../core/errors.js';

/** How a backup, verify or restore run that threw ended. */
export type RunEnd = {kind: 'cancelled'; error: MsdbError} | {kind: 'failed'; error: MsdbError};

/** The cancel signal of the run a flow has under way. */
export type RunController = {
	/** A fresh signal for a new run; from now on `cancel()` cancels that run. */
	begin: () => AbortSignal;
	/**
	 * esc on a running screen: asks the current run to stop (the core removes what it had
	 * written) and shows `screen` as cancelling; a second esc while it stops does nothing.
	 */
	cancel: <S extends {cancelling: boolean}>(screen: S, show: (next: S) => void) => void;
};

/**
 * Holds the AbortController of the backup and restore flows' runs (they drive the core directly,
 * not through useCoreOperation, to keep their own screen states). Leaving the console mid-run
 * (ctrl-c unmounts it) cancels the work, as esc does, so nothing keeps writing unseen.
 */
export function useRunController(): RunController {
	const controller = useRef<AbortController | undefined>(undefined);
	useEffect(
		() => () => {
			controller.current?.abort();
		},
		[],
	);

	return {
		begin() {
			const running = new AbortController();
			controller.current = running;
			return running.signal;
		},
		cancel(screen, show) {
			if (!screen.cancelling) {
				controller.current?.abort();
				show({...screen, cancelling: true});
			}
		},
	};
}

/**
 * A run that threw was cancelled when esc fired its signal or the core reports E_CANCELLED:
 * an abort can surface as another error (a closed stream), which is not a failure to report.
 */
export function runEnd(error: unknown, signal: AbortSignal): RunEnd {
	const failure = asMsdbError(error);
	return signal.aborted || failure.code === 'E_CANCELLED' ? {kind: 'cancelled', error: failure} : {kind: 'failed', error: failure};
}
