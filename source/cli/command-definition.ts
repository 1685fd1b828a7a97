import type {z} from 'zod';
import type {ExitCode} from '../core/errors.js';
import type {BackupEvent} from '../core/backup/backup-events.js';
import type {MigrationEvent} from '../core/migrations/migration-events.js';
import type {StatusEvent} from '../core/status-event.js';
import type {OutputBlock} from './output-blocks.js';

/** Events a command can report while it runs; more kinds join as features arrive. */
export type ProgressEvent = MigrationEvent | BackupEvent | StatusEvent;

/** What a finished command hands to whichever face ran it. */
export type CommandOutcome = {
	exitCode: ExitCode;
	/** The one JSON document printed on stdout with --json (the CLI contract). */
	json: unknown;
	/** What a person sees. */
	human: OutputBlock[];
};

export type CommandContext = {
	onEvent: (event: ProgressEvent) => void;
	env: NodeJS.ProcessEnv;
	/** Fires on Ctrl-C / SIGTERM (scripts) or when the console closes the screen. */
	signal: AbortSignal;
};

type ArgsOf<A> = A extends z.ZodTuple ? z.output<A> : [];

/**
 * One command, defined once and run by both faces: the script path (JSON / plain text, no Ink)
 * and the pastel command file (Ink). The definition imports core lazily inside `run`, so loading
 * every definition (pastel does at start-up) stays cheap.
 */
export type CommandDefinition<O extends z.ZodObject = z.ZodObject, A extends z.ZodTuple | undefined = z.ZodTuple | undefined> = {
	/** e.g. ['migrate', 'apply'] */
	path: readonly string[];
	description: string;
	options: O;
	args?: A;
	run(input: {options: z.output<O>; args: ArgsOf<A>}, context: CommandContext): Promise<CommandOutcome>;
};

export function defineCommand<O extends z.ZodObject, A extends z.ZodTuple | undefined = undefined>(
	definition: CommandDefinition<O, A>,
): CommandDefinition<O, A> & (A extends z.ZodTuple ? {args: A} : unknown) {
	return definition as CommandDefinition<O, A> & (A extends z.ZodTuple ? {args: A} : unknown);
}
