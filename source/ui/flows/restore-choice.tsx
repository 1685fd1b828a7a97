import {Select} from '@inkjs/ui';
import {Box, Text} from 'ink';

/** One answer to a restore question; `value` comes back through `onChoose`. */
export type RestoreOption<T extends string> = {value: T; label: string};

/**
 * One question of the restore flow (where PostgreSQL goes, what happens to Redis) with its
 * answers; ↑/↓ move and enter chooses (the Select's keys), esc is the flow's. The safe answer
 * comes first, so a bare enter never picks a destructive one.
 */
export function RestoreChoice<T extends string>({question, options, notes = [], onChoose}: {question: string; options: Array<RestoreOption<T>>; notes?: string[]; onChoose: (value: T) => void}) {
	return (
		<Box flexDirection="column">
			<Text bold>{question}</Text>
			<Select visibleOptionCount={options.length} options={options} onChange={value => onChoose(value as T)} />
			{notes.map(note => (
				<Text key={note} color="gray">
					{note}
				</Text>
			))}
		</Box>
	);
}
