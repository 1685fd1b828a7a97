import {render} from 'ink';
import type {ReactElement} from 'react';
import type {ConsoleOptions} from '../../cli/definitions/console.js';
import {refreshMs} from '../../cli/definitions/console.js';
import type {DashboardModel} from '../../core/console/dashboard-model.js';
import {openDashboard} from '../../core/console/open-dashboard.js';
import type {ExitCode} from '../../core/errors.js';
import type {FlowContext} from '../flows/flow-context.js';
import {ConsoleApp} from './console-app.js';

// xterm's alternate screen (1049: save the cursor, switch, clear): the console takes the whole
// terminal like top or k9s, and leaving gives back the scrollback as it was.
const ENTER_ALTERNATE_SCREEN = '\u001B[?1049h\u001B[H';
const LEAVE_ALTERNATE_SCREEN = '\u001B[?1049l';

/** A started model and the console element on it. */
export type ConsoleScreen = {element: ReactElement; model: DashboardModel; stop: () => Promise<void>};

/**
 * Builds the model (configuration resolved as every command does; a malformed URL throws before
 * anything is drawn), starts it, and returns the console element on it.
 */
export function openConsoleScreen(options: ConsoleOptions, env: NodeJS.ProcessEnv, extra: {onQuit?: () => void} = {}): ConsoleScreen {
	const opened = openDashboard({
		databaseUrl: options.databaseUrl,
		redisUrl: options.redisUrl,
		migrationsDir: options.migrationsDir,
		rollbacksDir: options.rollbacksDir,
		backupTarget: options.target,
		intervalMs: refreshMs(options.refresh) ?? 2000,
		env,
	});
	const flowContext: FlowContext = {
		database: opened.database,
		redisUrl: opened.redisUrl,
		migrationsDir: options.migrationsDir,
		rollbacksDir: options.rollbacksDir,
		backupTarget: opened.backupTarget,
		env,
		readonly: options.readonly,
	};
	opened.model.start();
	return {
		element: <ConsoleApp model={opened.model} flowContext={flowContext} readonly={options.readonly} {...extra} />,
		model: opened.model,
		stop: async () => opened.model.stop(),
	};
}

/**
 * `msdb` at a terminal: the console full-screen on the alternate screen until `q` or ctrl-c
 * (SIGTERM and SIGHUP close it too), then the terminal as it was. The model is stopped before
 * returning, so no connection or timer outlives the screen. Exit code 0.
 */
export async function runConsole(options: ConsoleOptions, io: {env: NodeJS.ProcessEnv; stdout?: NodeJS.WriteStream; stdin?: NodeJS.ReadStream}): Promise<ExitCode> {
	const stdout = io.stdout ?? process.stdout;
	const screen = openConsoleScreen(options, io.env);
	let onScreen = true;
	const leave = () => {
		if (onScreen) {
			onScreen = false;
			stdout.write(LEAVE_ALTERNATE_SCREEN);
		}
	};

	// However the process ends (a crash included), the terminal gets its screen back.
	process.once('exit', leave);
	stdout.write(ENTER_ALTERNATE_SCREEN);
	const instance = render(screen.element, {stdout, stdin: io.stdin ?? process.stdin, exitOnCtrlC: true});
	const close = () => {
		instance.unmount();
	};

	process.once('SIGTERM', close);
	process.once('SIGHUP', close);
	try {
		await instance.waitUntilExit();
	} finally {
		process.off('SIGTERM', close);
		process.off('SIGHUP', close);
		leave();
		process.off('exit', leave);
		await screen.stop();
	}

	return 0;
}
