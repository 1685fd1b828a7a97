import {useCallback, useRef} from 'react';
import type {FlowOutcome} from './flow-context.js';

/**
 * `onExit` guarded so it fires once (FlowProps' contract): a key pressed twice while the console
 * swaps screens, or a run settling as the person leaves, must not report two outcomes.
 */
export function useExitOnce(onExit: (outcome: FlowOutcome) => void): (outcome: FlowOutcome) => void {
	const exited = useRef(false);
	return useCallback(
		(outcome: FlowOutcome) => {
			if (exited.current) {
				return;
			}

			exited.current = true;
			onExit(outcome);
		},
		[onExit],
	);
}
