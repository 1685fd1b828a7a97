import {z} from 'zod';
import {ActionableError} from '../../core/errors.js';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {optionMeta} from '../option-meta.js';
import {targetOption} from './backup-shared.js';

// Literals, so parsing options never loads the console (core/console/refresh-steps.ts has the same).
const MIN_REFRESH_MS = 250;
const MAX_REFRESH_MS = 3_600_000;
const UNIT_MS: Record<string, number> = {ms: 1, s: 1000, min: 60_000, h: 3_600_000};

/** `--refresh` in ms, or undefined when it is not a duration the console accepts. */
export function refreshMs(value: string): number | undefined {
	const match = /^(\d+)\s*(ms|s|min|h)$/.exec(value.trim());
	const ms = match ? Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? Number.NaN) : Number.NaN;
	return ms >= MIN_REFRESH_MS && ms <= MAX_REFRESH_MS ? ms : undefined;
}

const {json: _json, ...consoleGlobalOptions} = globalOptions;

/**
 * `msdb` with no command: the interactive console. Its options are parsed here, by run-cli,
 * and not by pastel: options pastel gives its default command are program-wide in commander, and
 * would take `--database-url`, `--target` … away from every subcommand typed at a terminal.
 * Scripts have no use for the console: `run` refuses with the subcommands to use instead.
 */
export const consoleCommand = defineCommand({
	path: [],
	description: 'The interactive console: live PostgreSQL, Redis, cache, migrations and backups, with guided flows (needs a terminal)',
	options: z.object({
		...consoleGlobalOptions,
		target: targetOption,
		readonly: z
			.boolean()
			.default(false)
			.describe(optionMeta({description: 'Offer no flow that changes a database (migrate, roll back, restore, reset); back up stays'})),
		refresh: z
			.string()
			.refine(value => refreshMs(value) !== undefined, {message: 'must be a duration between 250ms and 1h, e.g. 2s'})
			.default('2s')
			.describe(optionMeta({description: 'Refresh interval of the live gauges (+/- change it)', valueDescription: 'duration', defaultValueDescription: '2s'})),
	}),
	async run() {
		throw new ActionableError('E_NO_TTY', 'The msdb console needs an interactive terminal.', {
			nextStep: 'Scripts use subcommands, e.g. `msdb migrate status --json`; see `msdb --help`.',
		});
	},
});

/** The console's parsed options. */
export type ConsoleOptions = z.output<typeof consoleCommand.options>;
