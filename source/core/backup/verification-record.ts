import {z} from 'zod';
import {ActionableError, BugError} from '../errors.js';
import {BACKUP_ID_PATTERN} from './backup-manifest.js';
import type {VerificationRecord} from './backup-manifest-types.js';
import {canonicalJson} from './canonical-json.js';

const count = z.number().int().nonnegative();

/** The zod schema of `<id>/verification-<time>.json`: exactly {@link VerificationRecord}. */
export const verificationRecordSchema = z.strictObject({
	backupId: z.string().regex(BACKUP_ID_PATTERN, 'expected a backup id (YYYYMMDDTHHMMSSZ-xxxxxx)'),
	verifiedAt: z.iso.datetime({message: 'expected an ISO 8601 UTC time'}),
	drill: z.boolean(),
	ok: z.boolean(),
	problems: z.array(
		z.strictObject({
			component: z.enum(['postgres', 'redis', 'manifest']),
			artifact: z.string().optional(),
			message: z.string(),
		}),
	),
	counts: z
		.strictObject({
			postgres: z.record(z.string(), count).optional(),
			redis: z.record(z.string(), count).optional(),
		})
		.optional(),
	toolVersion: z.string().min(1),
}) satisfies z.ZodType<VerificationRecord>;

/** The text stored for a record: canonical JSON (keys sorted), pretty-printed. */
export function serializeVerificationRecord(record: VerificationRecord): string {
	const parsed = verificationRecordSchema.safeParse(record);
	if (!parsed.success) {
		throw new BugError(`Refusing to write an invalid verification record for ${record.backupId}: ${z.prettifyError(parsed.error)}`);
	}

	return `${canonicalJson(record, {indent: '  '})}\n`;
}

/** Parses a stored record; E_MANIFEST_INVALID naming the problem when it is not one. */
export function parseVerificationRecord(bytes: Buffer | string, source: string): VerificationRecord {
	let value: unknown;
	try {
		value = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
	} catch (error) {
		throw invalidRecord(source, `it is not JSON (${(error as Error).message})`);
	}

	const parsed = verificationRecordSchema.safeParse(value);
	if (!parsed.success) {
		throw invalidRecord(source, z.prettifyError(parsed.error).replace(/\n/g, ' '));
	}

	return parsed.data;
}

function invalidRecord(source: string, problem: string): ActionableError {
	return new ActionableError('E_MANIFEST_INVALID', `Verification record ${source} is invalid: ${problem}`, {
		nextStep: 'Run `msdb backup verify <id>` again to record a fresh result.',
		details: {source},
	});
}
