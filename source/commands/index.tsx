import {Box, Text} from 'ink';
import type {z} from 'zod';
import {migrateStatus} from '../cli/definitions/migrate-status.js';
import {CommandScreen} from '../ui/command-screen.js';

export const description = 'The interactive console (needs a terminal)';
export const options = migrateStatus.options;

type Props = {options: z.infer<typeof options>};

/**
 * `msdb` with no command. The live dashboard and guided flows come with the console work; until
 * then this shows where the migrations stand and which commands exist.
 */
export default function Console({options}: Props) {
	return (
		<Box flexDirection="column">
			<Text bold>msdb — mister-smith-db</Text>
			<Text color="gray">The live console is not built yet; here is the migration status. `msdb --help` lists the commands.</Text>
			<CommandScreen definition={migrateStatus as never} options={options} />
		</Box>
	);
}
