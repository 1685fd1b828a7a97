import {Box, Text} from 'ink';

/** One key the screen answers to now. */
export type KeyHint = {key: string; label: string};

/**
 * The footer that always lists the keys that work now (k9s-style). Screens pass only the keys
 * they handle in their current state, so the footer never promises a key that does nothing.
 */
export function KeyFooter({keys}: {keys: readonly KeyHint[]}) {
	return (
		<Box flexWrap="wrap" columnGap={2}>
			{keys.map(hint => (
				<Text key={hint.key}>
					<Text color="cyan" bold>
						{hint.key}
					</Text>
					<Text color="gray"> {hint.label}</Text>
				</Text>
			))}
		</Box>
	);
}
