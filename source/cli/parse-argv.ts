import {parseArgs, type ParseArgsConfig} from 'node:util';
import {z} from 'zod';
import {ActionableError} from '../core/errors.js';
import type {CommandDefinition} from './command-definition.js';
import {readArgumentMeta, readOptionMeta} from './option-meta.js';

type FlagKind = 'boolean' | 'string' | 'number' | 'array';

type FlagSpec = {key: string; flag: string; kind: FlagKind; alias: string | undefined};

/** camelCase → kebab-case, the way pastel names flags (`databaseUrl` → `database-url`). */
export function kebabCase(name: string): string {
	return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** Unwraps optional/default/pipe wrappers to find what kind of value a flag takes. */
function flagKind(schema: z.ZodType): FlagKind {
	let current: z.ZodType = schema;
	for (;;) {
		if (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodNullable) {
			current = current.unwrap() as z.ZodType;
		} else {
			break;
		}
	}

	if (current instanceof z.ZodBoolean) {
		return 'boolean';
	}

	if (current instanceof z.ZodNumber) {
		return 'number';
	}

	if (current instanceof z.ZodArray || current instanceof z.ZodSet) {
		return 'array';
	}

	return 'string';
}

function describeFlags(shape: Record<string, z.ZodType>): FlagSpec[] {
	return Object.entries(shape).map(([key, schema]) => ({
		key,
		flag: kebabCase(key),
		kind: flagKind(schema),
		alias: readOptionMeta(schema.description)?.alias,
	}));
}

/**
 * Parses argv for one command with the same zod schemas pastel uses, so the script path
 * (no Ink) and the terminal path accept exactly the same flags. Any mistake is a refusal
 * (exit 2) naming the flag or argument.
 */
export function parseCommandArgv(
	definition: CommandDefinition,
	argv: string[],
): {options: Record<string, unknown>; args: unknown[]} {
	const shape = definition.options.shape as Record<string, z.ZodType>;
	const flags = describeFlags(shape);
	const config: ParseArgsConfig['options'] = {};
	for (const flag of flags) {
		config[flag.flag] = {
			type: flag.kind === 'boolean' ? 'boolean' : 'string',
			...(flag.kind === 'array' ? {multiple: true} : {}),
			...(flag.alias ? {short: flag.alias} : {}),
		};
	}

	let parsed;
	try {
		parsed = parseArgs({args: argv, options: config, allowPositionals: true, strict: true});
	} catch (error) {
		throw new ActionableError('E_BAD_ARGUMENT', `${(error as Error).message.replace(/\. To specify a positional.*$/s, '')}`, {
			nextStep: `Run \`${commandLine(definition)} --help\` to see the options.`,
		});
	}

	const raw: Record<string, unknown> = {};
	for (const flag of flags) {
		const value = parsed.values[flag.flag];
		if (value === undefined) {
			continue;
		}

		raw[flag.key] = flag.kind === 'number' && typeof value === 'string' ? parseNumber(value) : value;
	}

	const options = definition.options.safeParse(raw);
	if (!options.success) {
		const issue = options.error.issues[0];
		const key = String(issue?.path[0] ?? '');
		throw new ActionableError('E_BAD_ARGUMENT', `--${kebabCase(key)} ${describeIssue(issue, raw[key])}`, {
			nextStep: `Run \`${commandLine(definition)} --help\` to see the options.`,
			details: {option: `--${kebabCase(key)}`},
		});
	}

	const argsSchema = definition.args;
	if (!argsSchema) {
		if (parsed.positionals.length > 0) {
			throw new ActionableError('E_BAD_ARGUMENT', `\`${commandLine(definition)}\` takes no arguments, got "${parsed.positionals.join(' ')}".`, {
				nextStep: `Run \`${commandLine(definition)} --help\` to see how to use it.`,
			});
		}

		return {options: options.data as Record<string, unknown>, args: []};
	}

	const items = argsSchema.def.items as z.ZodType[];
	const positionals = parsed.positionals.map((value, index) => {
		const item = items[index];
		return item && flagKind(item) === 'number' ? parseNumber(value) : value;
	});
	const args = argsSchema.safeParse(positionals);
	if (!args.success) {
		const issue = args.error.issues[0];
		const index = Number(issue?.path[0] ?? 0);
		const name = readArgumentMeta(items[index]?.description)?.name ?? `argument ${index + 1}`;
		const usage = items.map(item => `<${readArgumentMeta(item.description)?.name ?? 'arg'}>`).join(' ');
		throw new ActionableError(
			'E_BAD_ARGUMENT',
			issue?.code === 'too_big' || (positionals.length > items.length && issue?.code !== 'invalid_type')
				? `Too many arguments: \`${commandLine(definition)} ${usage}\`.`
				: `<${name}> ${describeIssue(issue, positionals[index])}`,
			{nextStep: `Usage: ${commandLine(definition)} ${usage}`},
		);
	}

	return {options: options.data as Record<string, unknown>, args: args.data as unknown[]};
}

/** `msdb migrate status`; plain `msdb` for the console, whose path is empty (no double space). */
function commandLine(definition: CommandDefinition): string {
	return ['msdb', ...definition.path].join(' ');
}

/** Numbers as pastel parses them, but "12abc" is refused rather than read as 12. */
function parseNumber(value: string): number {
	return /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : Number.NaN;
}

function describeIssue(issue: z.core.$ZodIssue | undefined, value: unknown): string {
	if (!issue) {
		return 'is not valid';
	}

	if ((value === undefined && issue.code === 'invalid_type') || (issue.code === 'too_small' && issue.origin === 'array')) {
		return 'is required';
	}

	if (issue.code === 'invalid_type' && issue.expected === 'number') {
		return `must be a number, got "${String(value)}"`;
	}

	return `${issue.message.replace(/^Invalid input: /, '')}${value === undefined ? '' : ` (got "${String(value)}")`}`;
}
