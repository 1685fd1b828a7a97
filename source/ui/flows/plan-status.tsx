import {Spinner} from '@inkjs/ui';
import {Box, Text} from 'ink';
import type {MsdbError} from '../../core/errors.js';
import {KeyFooter} from '../components/key-footer.js';
import {OperationFailure} from './operation-failure.js';

/**
 * What the migrate, roll-back and reset flows show while their dry run (or ledger read) is under
 * way: nothing has changed yet, so the only key is esc, which leaves.
 */
export function PlanReading({label}: {label: string}) {
	return (
		<Box flexDirection="column" gap={1}>
			<Spinner label={label} />
			<KeyFooter keys={[{key: 'esc', label: 'back'}]} />
		</Box>
	);
}

/**
 * What those flows show when the read failed: that nothing was changed, why it failed, and the
 * keys to try again (`r`) or leave (esc) — the flow handles both.
 */
export function PlanReadFailed({message, error}: {message: string; error: MsdbError | undefined}) {
	return (
		<Box flexDirection="column" gap={1}>
			<Text>{message}</Text>
			{error ? <OperationFailure error={error} /> : undefined}
			<KeyFooter
				keys={[
					{key: 'r', label: 'try again'},
					{key: 'esc', label: 'back'},
				]}
			/>
		</Box>
	);
}
