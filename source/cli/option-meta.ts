/**
 * Option and argument metadata in the format pastel 4 reads from a zod `.describe()`
 * (`__pastel_option_config__{json}`). Written here rather than imported from pastel because
 * importing pastel loads commander and Ink, and the script path must start without them.
 */

export type OptionMeta = {
	description: string;
	alias?: string;
	/** Placeholder in help, e.g. `url` for `--database-url <url>`. */
	valueDescription?: string;
	defaultValueDescription?: string;
};

export type ArgumentMeta = {name: string; description: string};

const OPTION_PREFIX = '__pastel_option_config__';
const ARGUMENT_PREFIX = '__pastel_argument_config__';

export function optionMeta(meta: OptionMeta): string {
	return `${OPTION_PREFIX}${JSON.stringify(meta)}`;
}

export function argumentMeta(meta: ArgumentMeta): string {
	return `${ARGUMENT_PREFIX}${JSON.stringify(meta)}`;
}

/** Reads metadata back (for the script path's parser and help). */
export function readOptionMeta(description: string | undefined): OptionMeta | undefined {
	return description?.startsWith(OPTION_PREFIX) ? (JSON.parse(description.slice(OPTION_PREFIX.length)) as OptionMeta) : undefined;
}

export function readArgumentMeta(description: string | undefined): ArgumentMeta | undefined {
	return description?.startsWith(ARGUMENT_PREFIX) ? (JSON.parse(description.slice(ARGUMENT_PREFIX.length)) as ArgumentMeta) : undefined;
}
