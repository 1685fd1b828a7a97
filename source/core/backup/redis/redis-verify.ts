/**
 * Verifies a stored Redis artifact against its manifest part without touching any server:
 * re-hashes it (size and sha256), parses it end to end (RDB: structure and CRC64; dump:
 * framing, every payload's CRC64 and the trailing CRC64), and compares the key counts per
 * database. Every problem names the artifact; the whole artifact is always read, so a parse
 * failure early on still leaves the hash comparison to report.
 */
import {createHash} from 'node:crypto';
import {MsdbError} from '../../errors.js';
import type {BackupEventListener} from '../backup-events.js';
import type {RedisManifestPart, VerificationRecord} from '../backup-manifest-types.js';
import type {BackupTarget} from '../backup-target.js';
import {ProgressMeter} from '../progress-meter.js';
import {createRedisArtifactParser} from './redis-artifact-parser.js';
import type {RedisArtifactSummary} from './redis-key-record.js';

export type VerifyRedisArtifactOptions = {
	target: BackupTarget;
	part: RedisManifestPart;
	onEvent?: BackupEventListener;
	signal?: AbortSignal;
};

export type RedisVerificationProblem = VerificationRecord['problems'][number];

export type RedisArtifactVerification = {
	ok: boolean;
	problems: RedisVerificationProblem[];
	/** Keys per database found in the artifact (null when it could not be parsed to the end). */
	keysPerDatabase: Record<string, number> | null;
	bytes: number;
	sha256: string;
	/** `disabled` when the RDB was written with `rdbchecksum no` (not a problem, but worth showing). */
	checksum: RedisArtifactSummary['checksum'] | null;
};

/** See the file comment. Resolves with the findings; rejects only when the target itself fails. */
export async function verifyRedisArtifact(options: VerifyRedisArtifactOptions): Promise<RedisArtifactVerification> {
	const {part} = options;
	const label = part.artifact.key;
	const problems: RedisVerificationProblem[] = [];
	const problem = (message: string) => problems.push({component: 'redis', artifact: label, message});
	const meter = new ProgressMeter({component: 'redis', key: label, operation: 'verify', totalBytes: part.artifact.bytes}, options.onEvent ?? (() => {}));
	const hash = createHash('sha256');
	const parser = createRedisArtifactParser(part.artifact.format, {label});
	let parseError: unknown;
	let bytes = 0;
	let summary: RedisArtifactSummary | undefined;
	let stream;
	try {
		stream = await options.target.get(label, {signal: options.signal});
	} catch (error) {
		if (error instanceof MsdbError && /NOT_FOUND/.test(error.code)) {
			problem(`${label} is missing from ${options.target.display}.`);
			return {ok: false, problems, keysPerDatabase: null, bytes: 0, sha256: '', checksum: null};
		}

		throw error;
	}

	try {
		for await (const chunk of stream as AsyncIterable<Buffer>) {
			hash.update(chunk);
			bytes += chunk.length;
			meter.add(chunk.length);
			if (parseError === undefined) {
				try {
					parser.push(chunk);
				} catch (error) {
					parseError = error;
				}
			}
		}
	} finally {
		stream.destroy();
	}

	if (parseError === undefined) {
		try {
			summary = parser.end();
		} catch (error) {
			parseError = error;
		}
	}

	const sha256 = hash.digest('hex');
	meter.done({sha256});
	if (bytes !== part.artifact.bytes) {
		problem(`${label} is ${bytes} bytes; the manifest records ${part.artifact.bytes}.`);
	}

	if (sha256 !== part.artifact.sha256) {
		problem(`${label} has sha256 ${sha256}; the manifest records ${part.artifact.sha256}.`);
	}

	if (parseError !== undefined) {
		const message = parseError instanceof Error ? parseError.message : String(parseError);
		problem(message.includes(label) ? message : `${label}: ${message}`);
	}

	if (summary) {
		if (summary.rdbVersion !== null && summary.rdbVersion !== part.rdbVersion) {
			problem(`${label} has RDB version ${summary.rdbVersion}; the manifest records ${part.rdbVersion}.`);
		}

		const found = JSON.stringify(sorted(summary.keysPerDatabase));
		const expected = JSON.stringify(sorted(part.keysPerDatabase));
		if (found !== expected) {
			problem(`${label} holds keys per database ${found}; the manifest records ${expected}.`);
		}
	}

	return {
		ok: problems.length === 0,
		problems,
		keysPerDatabase: summary?.keysPerDatabase ?? null,
		bytes,
		sha256,
		checksum: summary?.checksum ?? null,
	};
}

function sorted(counts: Record<string, number>): Record<string, number> {
	return Object.fromEntries(
		Object.entries(counts)
			.filter(([, count]) => count > 0)
			.sort((a, b) => Number(a[0]) - Number(b[0])),
	);
}
