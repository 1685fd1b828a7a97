/**
 * A streaming RDB parser: it walks the file record by record (header, AUX, SELECTDB, expiry
 * opcodes, key/value pairs, EOF, CRC64) and hands out each key with its still-serialized value,
 * so a restore can wrap it into a DUMP payload without decoding any encoding.
 *
 * Push-based and synchronous (see record-stream-parser.ts): `push(chunk)` parses every record
 * the chunk completes and keeps only the unfinished one buffered, so memory is bounded by the
 * largest single key, not the file.
 *
 * Values are skipped structurally (lengths, strings, LZF blobs, stream metadata), which is why
 * every object type of RDB 5–12 (Redis 2.6–7.4) is covered: string; list (linked list, ziplist,
 * quicklist, quicklist 2); set (hashtable, intset, listpack); zset (skiplist old and binary
 * doubles, ziplist, listpack); hash (hashtable, zipmap, ziplist, listpack, and the 7.4
 * hash-field-expiry layouts); stream (listpacks v1/v2/v3 with consumer groups). Module values are
 * refused: RESTORE of one needs the module and its exact encoding version on the target, which
 * msdb cannot check.
 */
import {ActionableError} from '../../errors.js';
import {describeKey} from './describe-key.js';
import {lzfDecompress} from './lzf.js';
import {MAX_RDB_VERSION, MIN_RDB_VERSION, moduleTypeName, RdbOpcode, RdbType, valueTypeOf} from './rdb-format.js';
import {RecordStreamParser} from './record-stream-parser.js';
import type {RedisArtifactHandlers, RedisArtifactParser, RedisArtifactSummary} from './redis-key-record.js';

export type RdbParserOptions = RedisArtifactHandlers & {
	/** Names the artifact in every error (`<backup-id>/redis.rdb`). */
	label: string;
};

const HEADER_BYTES = 9;
const CHECKSUM_BYTES = 8;
const TWO_POW_32 = 2 ** 32;

type State = 'header' | 'body' | 'checksum' | 'done';

/** See the file comment. One instance per artifact; not reusable. */
export class RdbParser extends RecordStreamParser implements RedisArtifactParser {
	private readonly options: RdbParserOptions;
	/** Set by `length()`: the length byte announced a special string encoding. */
	private encoded = false;
	private state: State = 'header';
	private version: number | null = null;
	private db = 0;
	private expireAtMs: number | null = null;
	private readonly keysPerDatabase = new Map<number, number>();
	/** Keys of the current database not yet added to `keysPerDatabase` (a Map update per key is measurable). */
	private keysInDb = 0;
	private keyCount = 0;
	private functionCount = 0;
	private readonly aux: Record<string, string> = {};
	private checksum: 'ok' | 'disabled' = 'ok';

	constructor(options: RdbParserOptions) {
		super();
		this.options = options;
	}

	get rdbVersion(): number | null {
		return this.version;
	}

	get keys(): number {
		return this.keyCount;
	}

	end(): RedisArtifactSummary {
		if (!this.finish()) {
			const where = this.state === 'header' ? 'in its header' : this.state === 'checksum' ? 'in its checksum' : 'before its EOF marker';
			this.fail(this.corrupt(`it ends after ${this.bytesIn} bytes, ${where} (truncated)`, this.bytesIn));
		}

		this.tallyDatabase();
		return {
			format: 'rdb',
			rdbVersion: this.version,
			keysPerDatabase: Object.fromEntries([...this.keysPerDatabase].sort((a, b) => a[0] - b[0]).map(([db, count]) => [String(db), count])),
			keys: this.keyCount,
			functions: this.functionCount,
			bytes: this.bytesIn,
			checksum: this.checksum,
			aux: {...this.aux},
		};
	}

	protected get complete(): boolean {
		return this.state === 'done';
	}

	private tallyDatabase(): void {
		if (this.keysInDb > 0) {
			this.keysPerDatabase.set(this.db, (this.keysPerDatabase.get(this.db) ?? 0) + this.keysInDb);
			this.keysInDb = 0;
		}
	}

	/** Parses one record at `cursor`; returns whether its bytes count towards the CRC64. */
	protected parseRecord(): boolean {
		switch (this.state) {
			case 'header': {
				this.parseHeader();
				return true;
			}

			case 'checksum': {
				const at = this.cursor;
				this.skip(CHECKSUM_BYTES);
				const stored = this.buffer.subarray(at, at + CHECKSUM_BYTES);
				if (stored.every(byte => byte === 0)) {
					// Written with `rdbchecksum no`: Redis skips the check too.
					this.checksum = 'disabled';
				} else if (!this.checksumSoFar().matches(this.buffer, at)) {
					throw new ActionableError(
						'E_RDB_INVALID',
						`The RDB ${this.options.label} is corrupt: its CRC64 does not match (stored ${hex(stored)}, computed ${hex(this.checksumSoFar().toBuffer())}).`,
						{
							nextStep: 'The artifact was damaged after it was written; restore from another backup, and check the storage it lives on.',
							details: {artifact: this.options.label, storedCrc64: hex(stored), computedCrc64: hex(this.checksumSoFar().toBuffer())},
						},
					);
				}

				this.state = 'done';
				return false;
			}

			default: {
				return this.parseBodyRecord();
			}
		}
	}

	private parseHeader(): void {
		const at = this.cursor;
		this.skip(HEADER_BYTES);
		const magic = this.buffer.toString('latin1', at, at + 5);
		if (magic === 'VALKE') {
			throw new ActionableError('E_RDB_UNSUPPORTED', `The RDB ${this.options.label} was written by Valkey 9 or newer (magic "VALKEY"), whose format msdb cannot read.`, {
				nextStep: 'Back up that server in dump mode (--redis-mode dump) and restore it into a Valkey server.',
				details: {artifact: this.options.label},
			});
		}

		const digits = this.buffer.toString('latin1', at + 5, at + HEADER_BYTES);
		if (magic !== 'REDIS' || !/^\d{4}$/.test(digits)) {
			throw this.corrupt(`it does not start with "REDIS" and a 4-digit version (got ${JSON.stringify(this.buffer.toString('latin1', at, at + HEADER_BYTES))})`, this.offsetOfBuffer + at);
		}

		const version = Number(digits);
		if (version > MAX_RDB_VERSION) {
			throw new ActionableError(
				'E_RDB_VERSION_NEWER',
				`The RDB ${this.options.label} has format version ${version}, newer than this msdb can read (up to ${MAX_RDB_VERSION}, Redis 7.4).`,
				{
					nextStep: 'Use a newer msdb, or back up the server in dump mode (--redis-mode dump) and restore into a server of the same version.',
					details: {artifact: this.options.label, rdbVersion: version, maxSupported: MAX_RDB_VERSION},
				},
			);
		}

		if (version < MIN_RDB_VERSION) {
			throw new ActionableError('E_RDB_UNSUPPORTED', `The RDB ${this.options.label} has format version ${version}, older than msdb reads (${MIN_RDB_VERSION}, Redis 2.6, or newer).`, {
				nextStep: 'Load it into a Redis server of its time and back that up again, or use dump mode.',
				details: {artifact: this.options.label, rdbVersion: version},
			});
		}

		this.version = version;
		this.state = 'body';
		this.options.onHeader?.({rdbVersion: version});
	}

	private parseBodyRecord(): boolean {
		const at = this.cursor;
		const type = this.byte();
		switch (type) {
			case RdbOpcode.eof: {
				this.state = 'checksum';
				return true;
			}

			case RdbOpcode.selectDb: {
				const db = this.length();
				this.tallyDatabase();
				this.db = db;
				return true;
			}

			case RdbOpcode.resizeDb:
			case RdbOpcode.idle: {
				this.length();
				if (type === RdbOpcode.resizeDb) {
					this.length();
				}

				return true;
			}

			case RdbOpcode.freq: {
				this.skip(1);
				return true;
			}

			case RdbOpcode.expireTimeMs: {
				const start = this.cursor;
				this.skip(8);
				this.expireAtMs = this.buffer.readUInt32LE(start) + this.buffer.readInt32LE(start + 4) * TWO_POW_32;
				return true;
			}

			case RdbOpcode.expireTime: {
				const start = this.cursor;
				this.skip(4);
				this.expireAtMs = this.buffer.readInt32LE(start) * 1000;
				return true;
			}

			case RdbOpcode.aux: {
				const key = this.readString().toString('utf8');
				const value = this.readString().toString('utf8');
				this.aux[key] = value;
				return true;
			}

			case RdbOpcode.slotInfo: {
				this.length();
				this.length();
				this.length();
				return true;
			}

			case RdbOpcode.moduleAux: {
				this.lengthBig();
				const whenOpcode = this.length();
				this.length();
				if (whenOpcode !== 2) {
					throw this.corrupt(`a module AUX record has when-opcode ${whenOpcode}, not 2`, this.offsetOfBuffer + at);
				}

				// Module AUX data belongs to the module, not to any key; skipped, as restore replays keys.
				this.skipModuleValue();
				return true;
			}

			case RdbOpcode.function2: {
				const code = Buffer.from(this.readString());
				this.functionCount++;
				this.options.onFunctions?.({kind: 'library-code', code});
				return true;
			}

			case RdbOpcode.functionPreGa: {
				throw new ActionableError('E_RDB_UNSUPPORTED', `The RDB ${this.options.label} holds functions in the format of Redis 7.0 release candidates, which msdb cannot read.`, {
					nextStep: 'Upgrade that server to a released Redis 7 and take the backup again.',
					details: {artifact: this.options.label},
				});
			}

			default: {
				this.parseKeyValue(type, at);
				return true;
			}
		}
	}

	private parseKeyValue(rdbType: number, at: number): void {
		const valueType = valueTypeOf(rdbType);
		if (valueType === undefined) {
			throw this.corrupt(`byte ${rdbType} is neither an opcode nor a value type`, this.offsetOfBuffer + at);
		}

		const {onKey} = this.options;
		const keyStart = this.cursor;
		// Counting only (backup, verify): the name is skipped, not decoded, and no record is made.
		const key = onKey ? this.readString() : undefined;
		if (!key) {
			this.skipString();
		}

		const valueStart = this.cursor;
		this.skipValue(rdbType, key ?? keyStart);
		const {db} = this;
		this.keysInDb++;
		this.keyCount++;
		const expireAtMs = this.expireAtMs;
		this.expireAtMs = null;
		if (onKey && key) {
			onKey({db, key, type: valueType, rdbType, expireAtMs, value: this.buffer.subarray(valueStart, this.cursor), rdbVersion: this.version ?? 0});
		}
	}

	/** `key`: the decoded name, or where it starts (decoded only for a message). */
	private skipValue(rdbType: number, key: Buffer | number): void {
		switch (rdbType) {
			case RdbType.string:
			case RdbType.hashZipmap:
			case RdbType.listZiplist:
			case RdbType.setIntset:
			case RdbType.zsetZiplist:
			case RdbType.hashZiplist:
			case RdbType.hashListpack:
			case RdbType.zsetListpack:
			case RdbType.setListpack:
			case RdbType.hashListpackExPreGa: {
				this.skipString();
				return;
			}

			case RdbType.list:
			case RdbType.set:
			case RdbType.listQuicklist: {
				for (let count = this.length(); count > 0; count--) {
					this.skipString();
				}

				return;
			}

			case RdbType.zset: {
				for (let count = this.length(); count > 0; count--) {
					this.skipString();
					// An old-style double: a length byte and that many ASCII bytes; 253–255 are NaN/±inf.
					const size = this.byte();
					if (size < 253) {
						this.skip(size);
					}
				}

				return;
			}

			case RdbType.zset2: {
				for (let count = this.length(); count > 0; count--) {
					this.skipString();
					this.skip(8);
				}

				return;
			}

			case RdbType.hash: {
				for (let count = this.length(); count > 0; count--) {
					this.skipString();
					this.skipString();
				}

				return;
			}

			case RdbType.listQuicklist2: {
				for (let count = this.length(); count > 0; count--) {
					// Node container (plain or packed), then the node.
					this.length();
					this.skipString();
				}

				return;
			}

			case RdbType.hashMetadataPreGa:
			case RdbType.hashMetadata: {
				if (rdbType === RdbType.hashMetadata) {
					// The smallest field expiry, as 8 raw bytes.
					this.skip(8);
				}

				for (let count = this.length(); count > 0; count--) {
					this.length();
					this.skipString();
					this.skipString();
				}

				return;
			}

			case RdbType.hashListpackEx: {
				this.skip(8);
				this.skipString();
				return;
			}

			case RdbType.streamListpacks:
			case RdbType.streamListpacks2:
			case RdbType.streamListpacks3: {
				this.skipStream(rdbType);
				return;
			}

			case RdbType.module2:
			case RdbType.modulePreGa: {
				const name = rdbType === RdbType.module2 ? moduleTypeName(this.lengthBig()) : 'unknown (pre-GA module format)';
				if (typeof key === 'number') {
					this.cursor = key;
					key = this.readString();
				}

				throw new ActionableError(
					'E_RDB_UNSUPPORTED',
					`The RDB ${this.options.label} holds ${describeKey(key)} in database ${this.db}, a value of the module type '${name}'; msdb does not replay module values from an RDB.`,
					{
						nextStep: 'Back this server up in dump mode (--redis-mode dump); its DUMP payloads restore into a server that loads the same module.',
						details: {artifact: this.options.label, db: this.db, moduleType: name},
					},
				);
			}

			default: {
				throw this.corrupt(`value type ${rdbType} is not known`, this.offsetOfBuffer + this.cursor);
			}
		}
	}

	private skipStream(rdbType: number): void {
		for (let nodes = this.length(); nodes > 0; nodes--) {
			// The node's master ID, then its listpack.
			this.skipString();
			this.skipString();
		}

		// Length, last ID (ms, seq); v2+: first ID, max deleted ID, entries added.
		const counters = rdbType >= RdbType.streamListpacks2 ? 8 : 3;
		for (let index = 0; index < counters; index++) {
			this.length();
		}

		for (let groups = this.length(); groups > 0; groups--) {
			this.skipString();
			this.length();
			this.length();
			if (rdbType >= RdbType.streamListpacks2) {
				// entries_read
				this.length();
			}

			for (let pending = this.length(); pending > 0; pending--) {
				// Raw 128-bit ID, delivery time (8 bytes), delivery count.
				this.skip(16 + 8);
				this.length();
			}

			for (let consumers = this.length(); consumers > 0; consumers--) {
				this.skipString();
				// Seen time; v3 adds the active time.
				this.skip(rdbType >= RdbType.streamListpacks3 ? 16 : 8);
				for (let pending = this.length(); pending > 0; pending--) {
					this.skip(16);
				}
			}
		}
	}

	/** A module value annotated with RDB_MODULE_OPCODE_*, up to its EOF opcode. */
	private skipModuleValue(): void {
		for (;;) {
			const opcode = this.length();
			switch (opcode) {
				case 0: {
					return;
				}

				case 1:
				case 2: {
					this.length();
					break;
				}

				case 3: {
					this.skip(4);
					break;
				}

				case 4: {
					this.skip(8);
					break;
				}

				case 5: {
					this.skipString();
					break;
				}

				default: {
					throw this.corrupt(`module data has an unknown opcode ${opcode}`, this.offsetOfBuffer + this.cursor);
				}
			}
		}
	}

	/**
	 * An RDB length; sets `encoded` when it is a string-encoding marker instead. Lengths beyond
	 * 2^53 (stream IDs can be) come back rounded: they are only ever skipped.
	 */
	private length(): number {
		const first = this.byte();
		switch (first >> 6) {
			case 0: {
				this.encoded = false;
				return first & 0x3f;
			}

			case 1: {
				this.encoded = false;
				return ((first & 0x3f) << 8) | this.byte();
			}

			case 3: {
				this.encoded = true;
				return first & 0x3f;
			}

			default: {
				this.encoded = false;
				const at = this.cursor;
				if (first === 0x80) {
					this.skip(4);
					return this.buffer.readUInt32BE(at);
				}

				if (first === 0x81) {
					this.skip(8);
					return this.buffer.readUInt32BE(at) * TWO_POW_32 + this.buffer.readUInt32BE(at + 4);
				}

				throw this.corrupt(`length byte 0x${first.toString(16)} is not valid`, this.offsetOfBuffer + at - 1);
			}
		}
	}

	/** A length read exactly, for 64-bit module ids. */
	private lengthBig(): bigint {
		const at = this.cursor;
		const first = this.byte();
		if (first === 0x81) {
			const start = this.cursor;
			this.skip(8);
			return this.buffer.readBigUInt64BE(start);
		}

		this.cursor = at;
		return BigInt(this.length());
	}

	private skipString(): void {
		const length = this.length();
		if (!this.encoded) {
			this.skip(length);
			return;
		}

		switch (length) {
			case 0: {
				this.skip(1);
				return;
			}

			case 1: {
				this.skip(2);
				return;
			}

			case 2: {
				this.skip(4);
				return;
			}

			case 3: {
				const compressed = this.length();
				this.length();
				this.skip(compressed);
				return;
			}

			default: {
				throw this.corrupt(`string encoding ${length} is not known`, this.offsetOfBuffer + this.cursor - 1);
			}
		}
	}

	/** A string decoded: int encodings as their decimal text, LZF decompressed. */
	private readString(): Buffer {
		const length = this.length();
		const at = this.cursor;
		if (!this.encoded) {
			this.skip(length);
			return this.buffer.subarray(at, at + length);
		}

		switch (length) {
			case 0: {
				this.skip(1);
				return Buffer.from(String(this.buffer.readInt8(at)));
			}

			case 1: {
				this.skip(2);
				return Buffer.from(String(this.buffer.readInt16LE(at)));
			}

			case 2: {
				this.skip(4);
				return Buffer.from(String(this.buffer.readInt32LE(at)));
			}

			case 3: {
				const compressed = this.length();
				const size = this.length();
				const start = this.cursor;
				this.skip(compressed);
				// LZF expands at most ~256× (a 3-byte back reference yields 264 bytes): a larger claim
				// is corruption, and must not become a multi-gigabyte allocation.
				if (size > compressed * 264 + 32) {
					throw this.corrupt(`an LZF-compressed string of ${compressed} bytes claims ${size} bytes`, this.offsetOfBuffer + start);
				}

				const text = lzfDecompress(this.buffer, start, start + compressed, size);
				if (text === undefined) {
					throw this.corrupt(`an LZF-compressed string does not decompress to its ${size} bytes`, this.offsetOfBuffer + start);
				}

				return text;
			}

			default: {
				throw this.corrupt(`string encoding ${length} is not known`, this.offsetOfBuffer + at - 1);
			}
		}
	}

	protected corrupt(problem: string, offset: number): ActionableError {
		return new ActionableError('E_RDB_INVALID', `The RDB ${this.options.label} is not valid: ${problem} (byte ${offset}).`, {
			nextStep: 'The artifact is damaged or not an RDB file; restore from another backup, and check the storage it lives on.',
			details: {artifact: this.options.label, offset},
		});
	}
}

function hex(bytes: Uint8Array): string {
	return Buffer.from(bytes).toString('hex');
}
