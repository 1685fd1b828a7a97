import {Spinner} from '@inkjs/ui';
import {Box, Static, Text, useApp} from 'ink';
import {useEffect, useState} from 'react';
import {asMsdbError, type MsdbError} from '../core/errors.js';
import {redact} from '../core/redact.js';
import type {CommandDefinition, CommandOutcome} from '../cli/command-definition.js';
import {describeProgress} from '../cli/progress-lines.js';
import {OutputBlocksView} from './output-blocks-view.js';

type Props = {
	definition: CommandDefinition;
	options: Record<string, unknown>;
	args?: unknown[];
};

type Line = {id: number; text: string};

/**
 * Runs one command definition in the terminal: progress lines as the events arrive, a spinner
 * while it works, then the same output blocks scripts get as plain text. Sets the exit code
 * from the outcome, so the CLI contract holds in a terminal too.
 */
export function CommandScreen({definition, options, args = []}: Props) {
	const {exit} = useApp();
	const [lines, setLines] = useState<Line[]>([]);
	const [outcome, setOutcome] = useState<CommandOutcome>();
	const [failure, setFailure] = useState<MsdbError>();
	const [liveLine, setLiveLine] = useState<string>();

	useEffect(() => {
		let nextId = 0;
		// Ctrl-C (Ink unmounts the app) or closing the screen cancels the work, so nothing keeps
		// running on the server after the person has left.
		const controller = new AbortController();
		definition
			.run({options, args} as never, {
				env: process.env,
				signal: controller.signal,
				onEvent(event) {
					if (event.type === 'status' && event.live) {
						setLiveLine(event.message);
						return;
					}

					const text = describeProgress(event);
					if (text) {
						setLines(previous => [...previous, {id: nextId++, text}]);
					}
				},
			})
			.then(result => {
				process.exitCode = result.exitCode;
				setOutcome(result);
			})
			.catch((error: unknown) => {
				const msdbError = asMsdbError(error);
				process.exitCode = msdbError.exitCode;
				setFailure(msdbError);
			});
		// The command runs once per mount, by design; unmounting cancels it.
		return () => {
			controller.abort();
		};
	}, []);

	useEffect(() => {
		if (outcome || failure) {
			exit();
		}
	}, [outcome, failure, exit]);

	return (
		<Box flexDirection="column">
			<Static items={lines}>
				{line => (
					<Text key={line.id} color="gray">
						{redact(line.text)}
					</Text>
				)}
			</Static>
			{!outcome && !failure ? <Spinner label={redact(liveLine ?? `msdb ${definition.path.join(' ')}…`)} /> : null}
			{outcome ? <OutputBlocksView blocks={outcome.human} /> : null}
			{failure ? <ErrorView error={failure} /> : null}
		</Box>
	);
}

export function ErrorView({error}: {error: MsdbError}) {
	return (
		<Box flexDirection="column">
			<Text color="red">✖ {redact(error.message)}</Text>
			{error.nextStep ? <Text color="yellow">  → {redact(error.nextStep)}</Text> : null}
			<Text color="gray">
				{'  '}({error.code}
				{error.isBug ? ', a bug' : ''})
			</Text>
		</Box>
	);
}
