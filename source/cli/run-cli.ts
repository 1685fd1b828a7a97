import {ActionableError, asMsdbError, EXIT_REFUSED, type ExitCode} from '../core/errors.js';
import {redact, redactDeep, registerSecretsFromEnvironment} from '../core/redact.js';
import type {CommandDefinition, CommandOutcome} from './command-definition.js';
import type {ConsoleOptions} from './definitions/console.js';
import {formatErrorAsJson, formatErrorForHumans} from './error-report.js';
import {renderPlainText} from './output-blocks.js';
import {parseCommandArgv} from './parse-argv.js';
import {commandGroups, commandRegistry, matchCommand} from './registry.js';
import {createStderrProgress} from './stderr-progress.js';

export type CliIo = {
	stdout: NodeJS.WritableStream & {isTTY?: boolean};
	stderr: NodeJS.WritableStream;
	stdinIsTTY: boolean;
	env: NodeJS.ProcessEnv;
};

const HELP_FLAGS = new Set(['--help', '-h', 'help']);

/**
 * The entry of every `msdb` invocation. Scripts (`--json`, or stdout not a terminal) take a path
 * that never loads Ink, React or pastel; people at a terminal get the pastel/Ink face. Both parse
 * options with the same zod schemas and run the same command definitions.
 *
 * Returns the exit code, or undefined when the Ink face took over (it sets process.exitCode).
 */
export async function runCli(argv: string[], io: CliIo): Promise<ExitCode | undefined> {
	registerSecretsFromEnvironment(io.env);
	const wantsJson = argv.includes('--json');
	const interactive = Boolean(io.stdout.isTTY) && !wantsJson;

	// Answered here, not by pastel: a script checking which msdb it has should not wait for Ink.
	const withoutJson = argv.filter(arg => arg !== '--json');
	if (argv.includes('--version') || (withoutJson.length === 1 && withoutJson[0] === '-v')) {
		const {toolVersion} = await import('../core/tool-version.js');
		io.stdout.write(wantsJson ? `${JSON.stringify({name: 'msdb', version: toolVersion()})}\n` : `msdb ${toolVersion()}\n`);
		return 0;
	}

	if (argv.some(arg => HELP_FLAGS.has(arg))) {
		return runPastel(argv);
	}

	try {
		// No command word (`msdb`, `msdb --readonly`): the console. It parses its own flags rather
		// than through pastel, whose default-command options would shadow every subcommand's.
		if (argv.length === 0 || argv[0]?.startsWith('-')) {
			if (!interactive || !io.stdinIsTTY) {
				throw new ActionableError('E_NO_TTY', 'The msdb console needs an interactive terminal.', {
					nextStep: 'Scripts use subcommands, e.g. `msdb migrate status --json`; see `msdb --help`.',
				});
			}

			const {consoleCommand} = await import('./definitions/console.js');
			const input = parseCommandArgv(consoleCommand as unknown as CommandDefinition, argv);
			// React's development build (prop checks, profiling marks) doubles the console's CPU;
			// nobody develops msdb through its console. Set before Ink and React load.
			process.env.NODE_ENV ??= 'production';
			const {runConsole} = await import('../ui/console/run-console.js');
			return await runConsole(input.options as ConsoleOptions, {env: io.env});
		}

		const match = matchCommand(argv);
		if (!match) {
			throw unknownCommand(argv);
		}

		const definition = await commandRegistry[match.key]!();
		const input = parseCommandArgv(definition, match.rest);
		if (interactive) {
			return await runPastel(argv);
		}

		const outcome = await runForScripts(definition, input, io);
		if (input.options.json) {
			io.stdout.write(`${JSON.stringify(redactDeep(outcome.json), null, 2)}\n`);
		} else {
			io.stdout.write(redact(renderPlainText(outcome.human)));
		}

		return outcome.exitCode;
	} catch (error) {
		const failure = asMsdbError(error);
		io.stderr.write(`${formatErrorForHumans(failure)}\n`);
		if (wantsJson) {
			io.stdout.write(`${formatErrorAsJson(failure)}\n`);
		}

		return failure.exitCode;
	}
}

async function runForScripts(definition: CommandDefinition, input: {options: Record<string, unknown>; args: unknown[]}, io: CliIo): Promise<CommandOutcome> {
	// The first Ctrl-C or SIGTERM cancels cleanly (the running statement is cancelled on the
	// server and rolled back); a second Ctrl-C leaves at once.
	const controller = new AbortController();
	let signals = 0;
	const onSignal = (signal: NodeJS.Signals) => {
		signals++;
		if (signals > 1 && signal === 'SIGINT') {
			process.exit(130);
		}

		io.stderr.write(`msdb: ${signal === 'SIGINT' ? 'Ctrl-C' : signal}: cancelling… (Ctrl-C again to quit at once)\n`);
		controller.abort();
	};

	process.on('SIGINT', onSignal);
	process.on('SIGTERM', onSignal);
	try {
		return await definition.run(input as never, {
			env: io.env,
			signal: controller.signal,
			onEvent: createStderrProgress(text => io.stderr.write(text)),
		});
	} finally {
		process.off('SIGINT', onSignal);
		process.off('SIGTERM', onSignal);
	}
}

async function runPastel(argv: string[]): Promise<undefined> {
	const {runPastelApp} = await import('../pastel-app.js');
	await runPastelApp(argv);
	return undefined;
}

function unknownCommand(argv: string[]): ActionableError {
	const [first = '', second] = argv;
	const group = commandGroups[first];
	if (group) {
		const verbs = Object.keys(commandRegistry)
			.filter(key => key.startsWith(`${first} `))
			.map(key => key.slice(first.length + 1));
		return new ActionableError(
			'E_UNKNOWN_COMMAND',
			second && !second.startsWith('-') ? `Unknown command \`msdb ${first} ${second}\`.` : `\`msdb ${first}\` needs a subcommand.`,
			{nextStep: `Use one of: ${verbs.map(verb => `msdb ${first} ${verb}`).join(', ')}.`, exitCode: EXIT_REFUSED},
		);
	}

	return new ActionableError('E_UNKNOWN_COMMAND', `Unknown command \`msdb ${first}\`.`, {
		nextStep: `Commands: ${Object.entries(commandGroups)
			.map(([name, purpose]) => `msdb ${name} (${purpose})`)
			.join('; ')}. See \`msdb --help\`.`,
	});
}
