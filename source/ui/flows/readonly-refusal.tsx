import {Box, Text, useInput} from 'ink';
import {KeyFooter} from '../components/key-footer.js';

/**
 * What a destructive flow shows instead of starting when the console runs with `--readonly`:
 * why it refuses, how to get a console that can, and that nothing was done. esc goes back.
 */
export function ReadonlyRefusal({action, onBack}: {action: string; onBack: () => void}) {
	useInput((_input, key) => {
		if (key.escape) {
			onBack();
		}
	});
	return (
		<Box flexDirection="column" gap={1}>
			<Text color="yellow">
				Refused: the console runs with --readonly, so it does not {action}. Nothing was done.
			</Text>
			<Text>Start msdb without --readonly to {action}, or use the CLI (msdb migrate …), which asks for its own confirmation.</Text>
			<KeyFooter keys={[{key: 'esc', label: 'back'}]} />
		</Box>
	);
}
