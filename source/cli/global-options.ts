import {z} from 'zod';
import {DURATION_HINT, parseDuration} from '../core/duration.js';
import {optionMeta} from './option-meta.js';

/** Options every command accepts (DESIGN.md, CLI contract). */
export const globalOptions = {
	databaseUrl: z
		.string()
		.optional()
		.describe(optionMeta({description: 'PostgreSQL URL (else DATABASE_URL, else the libpq PG* variables)', valueDescription: 'url'})),
	redisUrl: z.string().optional().describe(optionMeta({description: 'Redis URL (else REDIS_URL)', valueDescription: 'url'})),
	migrationsDir: z
		.string()
		.default('./migrations')
		.describe(optionMeta({description: 'Folder of migration files', valueDescription: 'dir'})),
	rollbacksDir: z
		.string()
		.default('./rollbacks')
		.describe(optionMeta({description: 'Folder of rollback files', valueDescription: 'dir'})),
	json: z
		.boolean()
		.default(false)
		.describe(optionMeta({description: 'Print one JSON document on stdout (progress stays on stderr)'})),
};

/** A duration flag: a number with a unit, or 0. */
export function durationOption(description: string, defaultValue: string) {
	return z
		.string()
		.refine(value => parseDuration(value) !== undefined, {message: `must be ${DURATION_HINT}`})
		.default(defaultValue)
		.describe(optionMeta({description, valueDescription: 'duration', defaultValueDescription: defaultValue}));
}
