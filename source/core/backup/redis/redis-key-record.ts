import type {RedisValueType} from './rdb-format.js';

/**
 * One key of a Redis backup artifact, as both artifact parsers (RDB and msdb-redis-dump-v1)
 * yield it: enough to replay it with RESTORE without decoding its value.
 */
export type RedisKeyRecord = {
	/** Logical database (always 0 on a cluster). */
	db: number;
	/** The key name, decoded (int- and LZF-encoded names expanded). */
	key: Buffer;
	/** TYPE of the key. */
	type: RedisValueType;
	/** The RDB object type byte (the value's encoding). */
	rdbType: number;
	/** Absolute expiry in Unix milliseconds; null for a key without TTL. */
	expireAtMs: number | null;
	/**
	 * The value exactly as serialized, after its type byte: `[rdbType] + value` is a DUMP payload
	 * without its 10-byte trailer. (In an RDB the key name sits between the type byte and the
	 * value, so the two are kept apart rather than copied together.) Often a view into the
	 * parser's input chunk: copy it to keep it beyond the next push.
	 */
	value: Buffer;
	/** RDB version the value was serialized with (goes into the DUMP trailer). */
	rdbVersion: number;
	/** The complete DUMP payload when the artifact stores one (dump mode), already sealed. */
	dumpPayload?: Buffer;
};

/**
 * Server-side functions (Redis ≥ 7) found in an artifact: library source code from an RDB
 * (replayed with FUNCTION LOAD REPLACE), or a FUNCTION DUMP payload from dump mode (replayed with
 * FUNCTION RESTORE … REPLACE).
 */
export type RedisFunctionsRecord = {kind: 'library-code'; code: Buffer} | {kind: 'function-dump'; payload: Buffer};

/** What a parser found once the whole artifact has been read and checked. */
export type RedisArtifactSummary = {
	format: 'rdb' | 'msdb-redis-dump-v1';
	/** RDB version of the file (rdb), or of the DUMP payloads (dump; null if it holds no key). */
	rdbVersion: number | null;
	/** `{"0": 1200, "3": 5}`: every key in the artifact, expired or not. */
	keysPerDatabase: Record<string, number>;
	keys: number;
	/** Function records (FUNCTION2 opcodes, or a FUNCTION DUMP frame). */
	functions: number;
	/** Artifact bytes read. */
	bytes: number;
	/** `ok`: checksum verified; `disabled`: the RDB was written with `rdbchecksum no` (stored 0). */
	checksum: 'ok' | 'disabled';
	/** RDB AUX fields (`redis-ver`, `repl-id`, `repl-offset` …); empty for dump artifacts. */
	aux: Record<string, string>;
};

/** Callbacks a parser calls, synchronously, while it consumes pushed chunks. */
export type RedisArtifactHandlers = {
	onKey?: (record: RedisKeyRecord) => void;
	onFunctions?: (record: RedisFunctionsRecord) => void;
	/** Called once the header is read: the version is known before any key is handed out. */
	onHeader?: (header: {rdbVersion: number | null}) => void;
};

/**
 * A push parser for one artifact format: feed it chunks in order with `push` (it calls the
 * handlers as records complete and keeps only an incomplete record buffered), then `end()`,
 * which checks the trailer and returns the summary. Both throw ActionableError `E_RDB_INVALID`
 * (corrupt), `E_RDB_UNSUPPORTED` or `E_RDB_VERSION_NEWER`, naming the artifact.
 */
export interface RedisArtifactParser {
	push(chunk: Buffer): void;
	end(): RedisArtifactSummary;
	/** The artifact's RDB version once its header is read (null before, or when a dump holds no key). */
	readonly rdbVersion: number | null;
	/** Keys handed out so far. */
	readonly keys: number;
}
