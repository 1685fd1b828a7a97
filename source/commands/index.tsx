import {StatusMessage} from '@inkjs/ui';
import {Text} from 'ink';
import {useEffect, useState, type ReactElement} from 'react';
import {consoleCommand} from '../cli/definitions/console.js';

export const description = `${consoleCommand.description}. Flags: --readonly, --refresh <duration> (default 2s), --target <url>, --database-url, --redis-url, --migrations-dir, --rollbacks-dir`;

// No `options` on purpose: pastel makes the default command's options program-wide, which would
// take --database-url, --target … away from every subcommand. run-cli parses the console's flags
// itself (definitions/console.ts) and runs it full-screen (ui/console/run-console.tsx); pastel
// reaches this component only when called without run-cli, and opens the console with defaults.

/** `msdb` with no command, through pastel: the console with the environment's settings. */
export default function Console() {
	const [screen, setScreen] = useState<ReactElement>(<Text color="gray">opening the console…</Text>);
	useEffect(() => {
		let stop: (() => Promise<void>) | undefined;
		let unmounted = false;
		void (async () => {
			try {
				// Lazily: pastel imports every command file at start-up, and the console pulls in pg, ioredis and the S3 client.
				const [{openConsoleScreen}, {redact}] = await Promise.all([import('../ui/console/run-console.js'), import('../core/redact.js')]);
				try {
					const opened = openConsoleScreen(consoleCommand.options.parse({}), process.env);
					stop = opened.stop;
					if (unmounted) {
						await opened.stop();
						return;
					}

					setScreen(opened.element);
				} catch (error) {
					process.exitCode = 2;
					setScreen(<StatusMessage variant="error">{redact(error instanceof Error ? error.message : String(error))}</StatusMessage>);
				}
			} catch (error) {
				process.exitCode = 1;
				setScreen(<StatusMessage variant="error">{String(error)}</StatusMessage>);
			}
		})();
		return () => {
			unmounted = true;
			void stop?.();
		};
	}, []);
	return screen;
}
