import {Box, Text, useInput} from 'ink';
import {KeyFooter} from '../components/key-footer.js';

/**
 * The screen of a backup or restore flow when no backup target is configured: says so, how to
 * configure one, and that nothing was done. esc goes back.
 */
export function NoBackupTarget({action, onBack}: {action: 'back up' | 'restore'; onBack: () => void}) {
	useInput((_input, key) => {
		if (key.escape) {
			onBack();
		}
	});
	return (
		<Box flexDirection="column" gap={1}>
			<Text color="yellow">No backup target is configured, so there is nowhere to {action === 'back up' ? 'write backups to' : 'read backups from'}. Nothing was done.</Text>
			<Box flexDirection="column">
				<Text>Set one and start the console again:</Text>
				<Text>
					{'  '}• <Text bold>--target s3://bucket/prefix</Text> (or a directory path), or
				</Text>
				<Text>
					{'  '}• the environment variable <Text bold>MSDB_BACKUP_TARGET</Text>.
				</Text>
			</Box>
			<KeyFooter keys={[{key: 'esc', label: 'back'}]} />
		</Box>
	);
}
