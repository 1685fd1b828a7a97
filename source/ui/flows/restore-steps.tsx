import {Box, Text} from 'ink';

/** The steps of a restore, in order; the header shows where the person is among them. */
export const RESTORE_STEPS = ['Choose a backup', 'Verify it', 'Choose where', 'Review and confirm', 'Restore', 'Check'] as const;

/** Index into {@link RESTORE_STEPS}. */
export type RestoreStepIndex = 0 | 1 | 2 | 3 | 4 | 5;

/**
 * The restore flow's header: every step with the done ones ticked and the current one marked,
 * then a sentence on what this step does and what it does not touch. At 3 a.m. the person should
 * never have to guess what the next key press will do.
 */
export function RestoreSteps({current, explanation}: {current: RestoreStepIndex; explanation: string}) {
	return (
		<Box flexDirection="column">
			<Text bold>
				Restore · step {current + 1} of {RESTORE_STEPS.length}: {RESTORE_STEPS[current]}
			</Text>
			<Text>
				{RESTORE_STEPS.map((step, index) => (
					<Text key={step} color={index < current ? 'green' : index === current ? 'cyan' : 'gray'} bold={index === current}>
						{index > 0 ? ' › ' : ''}
						{index < current ? '✔ ' : index === current ? '● ' : ''}
						{step}
					</Text>
				))}
			</Text>
			<Text color="gray">{explanation}</Text>
		</Box>
	);
}
