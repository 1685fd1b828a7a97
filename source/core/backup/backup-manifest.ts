import {createHash, randomBytes} from 'node:crypto';
import {z} from 'zod';
import {BugError, ActionableError} from '../errors.js';
import {canonicalJson} from './canonical-json.js';
import {
	MANIFEST_FORMAT_VERSION,
	type ArtifactRef,
	type BackupComponent,
	type BackupManifest,
	type PostgresManifestPart,
	type RedisManifestPart,
} from './backup-manifest-types.js';
import {objectKeyProblem} from './targets/object-key.js';

/**
 * `manifest.json`: its schema, checksum and the layout of a backup folder.
 *
 * Written last, so no manifest means no backup. The stored file is the canonical JSON
 * ({@link canonicalJson}: keys sorted) pretty-printed; `manifestSha256` is the sha256 of the
 * compact canonical JSON of every other field, so anyone can re-check it by hand:
 * `jq -cS 'del(.manifestSha256)' manifest.json | tr -d '\n' | sha256sum`.
 */

/** `YYYYMMDDTHHMMSSZ-<6 hex>`: sorts by start time, unique enough for one site. */
export const BACKUP_ID_PATTERN = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-[\da-f]{6}$/;
export const MANIFEST_FILE_NAME = 'manifest.json';
/** `<id>/verification-<YYYYMMDDTHHMMSSmmmZ>.json`; the timestamp makes names sort by time. */
export const VERIFICATION_KEY_PATTERN = /^verification-\d{8}T\d{9}Z\.json$/;

export const BACKUP_COMPONENTS = ['postgres', 'redis'] as const satisfies readonly BackupComponent[];

/** A new backup id for a run starting at `date`. */
export function newBackupId(date: Date = new Date()): string {
	return `${compactTimestamp(date).slice(0, 15)}Z-${randomBytes(3).toString('hex')}`;
}

/** Whether `value` has the shape of a backup id (and so names a backup folder). */
export function isBackupId(value: string): boolean {
	return BACKUP_ID_PATTERN.test(value);
}

/** The start time encoded in a backup id (second precision); undefined for anything else. */
export function backupIdTime(id: string): Date | undefined {
	const match = BACKUP_ID_PATTERN.exec(id);
	if (!match) {
		return undefined;
	}

	const [, year, month, day, hour, minute, second] = match.map(Number) as [number, number, number, number, number, number, number];
	const time = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
	return Number.isNaN(time.getTime()) ? undefined : time;
}

/** `<id>/manifest.json` */
export function manifestKey(id: string): string {
	assertBackupId(id);
	return `${id}/${MANIFEST_FILE_NAME}`;
}

/** `<id>/<name>`, for an artifact file name such as `postgres.dump` or `redis.rdb`. */
export function artifactKey(id: string, name: string): string {
	assertBackupId(id);
	if (!/^[A-Za-z\d][\w.-]*$/.test(name) || name === MANIFEST_FILE_NAME || VERIFICATION_KEY_PATTERN.test(name)) {
		throw new BugError(`Artifact name ${JSON.stringify(name)} is not a plain file name, or is reserved (manifest.json, verification-*.json).`);
	}

	return `${id}/${name}`;
}

/** `<id>/verification-<YYYYMMDDTHHMMSSmmmZ>.json`: where `verify` records a result. */
export function verificationKey(id: string, date: Date): string {
	assertBackupId(id);
	return `${id}/verification-${compactTimestamp(date)}.json`;
}

function compactTimestamp(date: Date): string {
	// 2025-01-02T03:04:05.678Z → 20250102T030405678Z
	return date.toISOString().replace(/[-:.]/g, '');
}

function assertBackupId(id: string): void {
	if (!isBackupId(id)) {
		throw new ActionableError('E_BAD_ARGUMENT', `${JSON.stringify(id)} is not a backup id (YYYYMMDDTHHMMSSZ-xxxxxx).`, {
			nextStep: '`msdb backup list` shows the ids of the backups in the target.',
			details: {id},
		});
	}
}

/**
 * The zod schema of `manifest.json`: exactly {@link BackupManifest}, no unknown fields. Built on
 * first use, not at import: building it took ~5 ms, and `backup create` imports this module before
 * pg_dump starts but needs the schema only at the end (see warmManifestSchema).
 */
function buildManifestSchema() {
	const sha256Hex = z.string().regex(/^[\da-f]{64}$/, 'expected a lowercase hex sha256 (64 characters)');
	const isoTime = z.iso.datetime({message: 'expected an ISO 8601 UTC time such as 2025-01-02T03:04:05.000Z'});
	const count = z.number().int().nonnegative();

	const artifactSchema = z.strictObject({
		key: z.string().min(1),
		bytes: count,
		sha256: sha256Hex,
		format: z.enum(['pg_dump-custom', 'rdb', 'msdb-redis-dump-v1']),
	}) satisfies z.ZodType<ArtifactRef>;

	const postgresSchema = z.strictObject({
		serverVersion: z.string().min(1),
		serverVersionNum: z.number().int().positive(),
		// 'unknown' when the server hides pg_control_system() (some managed services).
		systemIdentifier: z.string().regex(/^(\d+|unknown)$/, 'expected the decimal system identifier, or unknown'),
		database: z.string().min(1),
		pgDumpVersion: z.string().min(1),
		format: z.literal('custom'),
		walLsn: z.string().regex(/^[\dA-F]{1,8}\/[\dA-F]{1,8}$/i, 'expected an LSN such as 0/16B3748'),
		rowCounts: z.record(z.string(), count).nullable(),
		artifact: artifactSchema,
	}) satisfies z.ZodType<PostgresManifestPart>;

	const redisSchema = z.strictObject({
		serverVersion: z.string().min(1),
		mode: z.enum(['sync', 'dump']),
		rdbVersion: z.number().int().positive(),
		replicationId: z.string().nullable(),
		replicationOffset: count.nullable(),
		keysPerDatabase: z.record(z.string().regex(/^\d+$/, 'expected a database number'), count),
		artifact: artifactSchema,
	}) satisfies z.ZodType<RedisManifestPart>;

	const componentSchema = z.enum(BACKUP_COMPONENTS, {
		error: issue => `unknown component ${JSON.stringify(issue.input)} (this msdb knows ${BACKUP_COMPONENTS.join(', ')})`,
	});

	return z.strictObject({
		formatVersion: z.literal(MANIFEST_FORMAT_VERSION),
		id: z.string().regex(BACKUP_ID_PATTERN, 'expected a backup id (YYYYMMDDTHHMMSSZ-xxxxxx)'),
		startedAt: isoTime,
		finishedAt: isoTime,
		toolVersion: z.string().min(1),
		components: z.array(componentSchema).min(1, 'expected at least one component'),
		postgres: postgresSchema.nullable(),
		redis: redisSchema.nullable(),
		manifestSha256: sha256Hex,
	});
}

let manifestSchema: ReturnType<typeof buildManifestSchema> | undefined;

function backupManifestSchema(): ReturnType<typeof buildManifestSchema> {
	manifestSchema ??= buildManifestSchema();
	return manifestSchema;
}

/** Builds the schema now, e.g. while a dump runs and the process would otherwise wait. */
export function warmManifestSchema(): void {
	backupManifestSchema();
}

// The schema and the hand-written types must not drift apart: this fails to compile if they do.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const schemaMatchesTypes: Same<z.infer<ReturnType<typeof buildManifestSchema>>, BackupManifest> = true;
void schemaMatchesTypes;

/** What is wrong with a manifest; `kind` lets verify/restore report and branch without parsing text. */
export type ManifestProblem = {
	kind: 'json' | 'format-version' | 'schema' | 'checksum' | 'id-mismatch' | 'artifact-key' | 'components' | 'times';
	message: string;
};

/** The sha256 (hex) that `manifestSha256` must hold: over the compact canonical JSON of the rest. */
export function manifestChecksum(manifest: Record<string, unknown>): string {
	const {manifestSha256: _ignored, ...rest} = manifest;
	return createHash('sha256').update(canonicalJson(rest), 'utf8').digest('hex');
}

/**
 * Seals a manifest: adds `manifestSha256` and returns the exact text to store. Throws a BugError
 * when the manifest would not pass {@link parseManifest}: msdb must never write a backup it would
 * later refuse.
 */
export function serializeManifest(manifest: Omit<BackupManifest, 'manifestSha256'>): {json: string; manifest: BackupManifest} {
	const sealed = {...manifest, manifestSha256: manifestChecksum(manifest)} as BackupManifest;
	const problems = manifestProblems(sealed as unknown as Record<string, unknown>, {});
	if (problems.length > 0) {
		throw new BugError(`Refusing to write an invalid manifest for ${manifest.id}: ${problems.map(problem => problem.message).join('; ')}`, {
			details: {problems},
		});
	}

	return {json: `${canonicalJson(sealed, {indent: '  '})}\n`, manifest: sealed};
}

/**
 * Reads and checks a stored manifest: JSON, format version, every field (by path), its own
 * checksum, that each artifact lies in the backup's own folder, that the components match the
 * parts present, and (with `expectedId`) that it is the backup asked for. Throws
 * E_MANIFEST_INVALID naming every problem found (`details.problems`); `source` names the
 * manifest in the message (its key or URL). Verify reports this as a finding (exit 3), restore
 * as a refusal (exit 2, the code's default).
 */
export function parseManifest(bytes: Buffer | string, options: {expectedId?: string; source?: string} = {}): BackupManifest {
	const source = options.source ?? (options.expectedId ? `${options.expectedId}/${MANIFEST_FILE_NAME}` : 'the manifest');
	let value: unknown;
	try {
		value = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
	} catch (error) {
		throw manifestError(source, [{kind: 'json', message: `it is not JSON (${(error as Error).message})`}]);
	}

	if (value === null || typeof value !== 'object' || Array.isArray(value)) {
		throw manifestError(source, [{kind: 'json', message: 'it is not a JSON object'}]);
	}

	const problems = manifestProblems(value as Record<string, unknown>, options);
	if (problems.length > 0) {
		throw manifestError(source, problems);
	}

	return value as BackupManifest;
}

function manifestProblems(value: Record<string, unknown>, options: {expectedId?: string}): ManifestProblem[] {
	// A different format version means different rules: say so instead of listing their fallout.
	const {formatVersion} = value;
	if (typeof formatVersion === 'number' && formatVersion !== MANIFEST_FORMAT_VERSION) {
		return [
			{
				kind: 'format-version',
				message: `unknown formatVersion ${formatVersion} (this msdb reads format ${MANIFEST_FORMAT_VERSION}${formatVersion > MANIFEST_FORMAT_VERSION ? '; it was written by a newer msdb: upgrade msdb to read it' : ''})`,
			},
		];
	}

	const problems: ManifestProblem[] = [];
	const parsed = backupManifestSchema().safeParse(value);
	if (!parsed.success) {
		for (const issue of parsed.error.issues) {
			problems.push(...describeIssue(issue));
		}
	}

	// The checksum is checked even when fields are wrong: "edited by hand" vs "written wrong".
	if (typeof value['manifestSha256'] === 'string') {
		const computed = manifestChecksum(value);
		if (computed !== value['manifestSha256']) {
			problems.push({
				kind: 'checksum',
				message: `checksum mismatch: manifestSha256 says ${value['manifestSha256']}, the content hashes to ${computed}; the manifest was modified or corrupted after it was written`,
			});
		}
	}

	if (!parsed.success) {
		return problems;
	}

	const manifest = parsed.data;
	if (options.expectedId !== undefined && manifest.id !== options.expectedId) {
		problems.push({kind: 'id-mismatch', message: `it describes backup ${manifest.id}, not ${options.expectedId} (copied from another folder?)`});
	}

	for (const component of BACKUP_COMPONENTS) {
		const listed = manifest.components.filter(name => name === component).length;
		const part = manifest[component];
		if (listed > 1) {
			problems.push({kind: 'components', message: `components lists ${component} ${listed} times`});
		}

		if (listed > 0 && part === null) {
			problems.push({kind: 'components', message: `components lists ${component} but the ${component} part is null`});
		} else if (listed === 0 && part !== null) {
			problems.push({kind: 'components', message: `the ${component} part is present but components does not list ${component}`});
		}

		if (part) {
			problems.push(...artifactProblems(manifest.id, component, part.artifact));
		}
	}

	if (manifest.redis) {
		const expected = manifest.redis.mode === 'sync' ? 'rdb' : 'msdb-redis-dump-v1';
		if (manifest.redis.artifact.format !== expected) {
			problems.push({kind: 'components', message: `redis.artifact.format is ${manifest.redis.artifact.format}, but a ${manifest.redis.mode}-mode backup stores ${expected}`});
		}
	}

	if (manifest.postgres && manifest.postgres.artifact.format !== 'pg_dump-custom') {
		problems.push({kind: 'components', message: `postgres.artifact.format is ${manifest.postgres.artifact.format}, expected pg_dump-custom`});
	}

	if (Date.parse(manifest.finishedAt) < Date.parse(manifest.startedAt)) {
		problems.push({kind: 'times', message: `finishedAt ${manifest.finishedAt} is before startedAt ${manifest.startedAt}`});
	}

	return problems;
}

/** An artifact must be a file of its own backup's folder: restore reads nothing else. */
function artifactProblems(id: string, component: BackupComponent, artifact: ArtifactRef): ManifestProblem[] {
	const field = `${component}.artifact.key`;
	const {key} = artifact;
	const problem = objectKeyProblem(key);
	if (problem !== undefined) {
		return [{kind: 'artifact-key', message: `${field} ${JSON.stringify(key)} is outside the backup folder ${id}/: ${problem}`}];
	}

	if (!key.startsWith(`${id}/`)) {
		return [{kind: 'artifact-key', message: `${field} ${JSON.stringify(key)} is outside the backup folder ${id}/`}];
	}

	const name = key.slice(id.length + 1);
	if (name === MANIFEST_FILE_NAME || VERIFICATION_KEY_PATTERN.test(name)) {
		return [{kind: 'artifact-key', message: `${field} ${JSON.stringify(key)} names the manifest or a verification record, not an artifact`}];
	}

	return [];
}

function describeIssue(issue: z.core.$ZodIssue): ManifestProblem[] {
	const path = formatPath(issue.path);
	if (issue.code === 'unrecognized_keys') {
		return issue.keys.map(key => ({kind: 'schema' as const, message: `${formatPath([...issue.path, key])}: unknown field`}));
	}

	if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) {
		return [{kind: 'schema', message: `${path}: missing (expected ${issue.expected})`}];
	}

	return [{kind: 'schema', message: `${path || '(top level)'}: ${issue.message}`}];
}

function formatPath(path: readonly PropertyKey[]): string {
	let text = '';
	for (const segment of path) {
		text += typeof segment === 'number' ? `[${segment}]` : `${text ? '.' : ''}${String(segment)}`;
	}

	return text;
}

function manifestError(source: string, problems: ManifestProblem[]): ActionableError {
	const [first] = problems;
	return new ActionableError('E_MANIFEST_INVALID', `Manifest ${source} is invalid: ${problems.map(problem => problem.message).join('; ')}.`, {
		nextStep:
			first?.kind === 'format-version'
				? 'Read it with the msdb version that wrote it (see toolVersion), or upgrade msdb.'
				: 'Do not restore from this backup: pick another one (`msdb backup list`), and keep this folder for investigation.',
		details: {source, kind: first?.kind, problems},
	});
}
