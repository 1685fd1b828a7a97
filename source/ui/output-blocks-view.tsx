import {Box, Text} from 'ink';
import {redact} from '../core/redact.js';
import {layoutTable, type OutputBlock, type Tone} from '../cli/output-blocks.js';

const TONE_COLORS: Record<Tone, string> = {
	success: 'green',
	warning: 'yellow',
	error: 'red',
	muted: 'gray',
	info: 'cyan',
};

/** Draws the same blocks the plain-text renderer prints, with colour. */
export function OutputBlocksView({blocks}: {blocks: OutputBlock[]}) {
	return (
		<Box flexDirection="column">
			{blocks.map((block, index) => (
				<BlockView key={index} block={block} />
			))}
		</Box>
	);
}

function BlockView({block}: {block: OutputBlock}) {
	switch (block.kind) {
		case 'text': {
			return <Text color={block.tone ? TONE_COLORS[block.tone] : undefined}>{redact(block.text)}</Text>;
		}

		case 'table': {
			const [header = '', ...rows] = layoutTable(block.columns, block.rows);
			return (
				<Box flexDirection="column">
					<Text bold>{header}</Text>
					{rows.map((row, index) => {
						const tone = block.tones?.[index];
						return (
							<Text key={index} color={tone ? TONE_COLORS[tone] : undefined}>
								{redact(row)}
							</Text>
						);
					})}
				</Box>
			);
		}

		case 'code': {
			return (
				<Box flexDirection="column" marginY={0}>
					{block.title ? <Text color="gray">{redact(block.title)}</Text> : null}
					<Box paddingLeft={2} flexDirection="column">
						{block.text
							.replace(/\n$/, '')
							.split('\n')
							.map((line, index) => (
								<Text key={index} color={diffColor(line)}>
									{redact(line) || ' '}
								</Text>
							))}
					</Box>
				</Box>
			);
		}
	}
}

function diffColor(line: string): string | undefined {
	if (line.startsWith('+') && !line.startsWith('+++')) {
		return 'green';
	}

	if (line.startsWith('-') && !line.startsWith('---')) {
		return 'red';
	}

	return undefined;
}
