import {useStdout} from 'ink';
import {useEffect, useState} from 'react';
import {MIN_SIZE, type TerminalSize} from './console-layout.js';

/**
 * The terminal's size, following resizes. `fixed` overrides it (tests; ink-testing-library's
 * stdout is 100 columns with no rows). A stream that does not know its size counts as 80×24.
 */
export function useTerminalSize(fixed?: TerminalSize): TerminalSize {
	const {stdout} = useStdout();
	const [size, setSize] = useState<TerminalSize>(() => read(stdout));
	useEffect(() => {
		if (fixed) {
			return undefined;
		}

		const onResize = () => {
			setSize(read(stdout));
		};

		stdout.on('resize', onResize);
		return () => {
			stdout.off('resize', onResize);
		};
	}, [stdout, fixed]);
	return fixed ?? size;
}

function read(stdout: NodeJS.WriteStream): TerminalSize {
	return {columns: stdout.columns || MIN_SIZE.columns, rows: stdout.rows || MIN_SIZE.rows};
}
