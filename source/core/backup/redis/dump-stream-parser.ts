/**
 * The push parser of `msdb-redis-dump-v1` artifacts (layout in dump-stream-format.ts). Checks the
 * framing as it goes: the magic and version, every frame's tag and lengths, each DUMP payload's
 * own CRC64 and version, the END frame's counts against the keys read, and the trailing CRC64
 * of the whole artifact. Buffering as in record-stream-parser.ts.
 */
import {ActionableError} from '../../errors.js';
import {describeKey} from './describe-key.js';
import {DUMP_TRAILER_BYTES, readDumpTrailer} from './dump-payload.js';
import {DUMP_STREAM_MAGIC, DUMP_STREAM_VERSION, DumpFrame, MAX_FRAME_LENGTH, type DumpStreamHeader, type DumpStreamTrailer} from './dump-stream-format.js';
import {valueTypeOf} from './rdb-format.js';
import {RecordStreamParser} from './record-stream-parser.js';
import type {RedisArtifactHandlers, RedisArtifactParser, RedisArtifactSummary} from './redis-key-record.js';

export type DumpStreamParserOptions = RedisArtifactHandlers & {
	/** Names the artifact in every error. */
	label: string;
};

type State = 'header' | 'frames' | 'checksum' | 'done';

const TWO_POW_32 = 2 ** 32;

/** See the file comment. One instance per artifact. */
export class DumpStreamParser extends RecordStreamParser implements RedisArtifactParser {
	private readonly options: DumpStreamParserOptions;
	private state: State = 'header';
	private header: DumpStreamHeader | undefined;
	private db: number | null = null;
	private readonly keysPerDatabase = new Map<number, number>();
	private keyCount = 0;
	private functionCount = 0;

	constructor(options: DumpStreamParserOptions) {
		super();
		this.options = options;
	}

	get rdbVersion(): number | null {
		return this.header?.rdbVersion ?? null;
	}

	get keys(): number {
		return this.keyCount;
	}

	/** The header's JSON, once read. */
	get streamHeader(): DumpStreamHeader | undefined {
		return this.header;
	}

	end(): RedisArtifactSummary {
		if (!this.finish()) {
			const where = this.state === 'header' ? 'in its header' : this.state === 'checksum' ? 'in its checksum' : 'before its END frame';
			this.fail(this.corrupt(`it ends after ${this.bytesIn} bytes, ${where} (truncated)`, this.bytesIn));
		}

		return {
			format: 'msdb-redis-dump-v1',
			rdbVersion: this.rdbVersion,
			keysPerDatabase: this.countsRecord(),
			keys: this.keyCount,
			functions: this.functionCount,
			bytes: this.bytesIn,
			checksum: 'ok',
			aux: {},
		};
	}

	protected get complete(): boolean {
		return this.state === 'done';
	}

	protected parseRecord(): boolean {
		switch (this.state) {
			case 'header': {
				this.parseHeader();
				return true;
			}

			case 'checksum': {
				const at = this.cursor;
				this.skip(8);
				if (!this.checksumSoFar().matches(this.buffer, at)) {
					throw new ActionableError(
						'E_RDB_INVALID',
						`The Redis dump ${this.options.label} is corrupt: its CRC64 does not match (stored ${this.buffer.toString('hex', at, at + 8)}, computed ${this.checksumSoFar().toBuffer().toString('hex')}).`,
						{
							nextStep: 'The artifact was damaged after it was written; restore from another backup, and check the storage it lives on.',
							details: {artifact: this.options.label},
						},
					);
				}

				this.state = 'done';
				return false;
			}

			default: {
				this.parseFrame();
				return true;
			}
		}
	}

	private parseHeader(): void {
		const at = this.cursor;
		this.skip(DUMP_STREAM_MAGIC.length + 1 + 4);
		if (!this.buffer.subarray(at, at + DUMP_STREAM_MAGIC.length).equals(DUMP_STREAM_MAGIC)) {
			throw this.corrupt('it does not start with "MSDBRDMP"', this.offsetOfBuffer + at);
		}

		const version = this.buffer[at + DUMP_STREAM_MAGIC.length]!;
		if (version !== DUMP_STREAM_VERSION) {
			throw new ActionableError('E_RDB_UNSUPPORTED', `The Redis dump ${this.options.label} has framing version ${version}; this msdb reads version ${DUMP_STREAM_VERSION}.`, {
				nextStep: 'Restore it with the msdb version that wrote it, or a newer one.',
				details: {artifact: this.options.label, version},
			});
		}

		const length = this.buffer.readUInt32LE(at + DUMP_STREAM_MAGIC.length + 1);
		const start = this.cursor;
		this.skip(length);
		const header = this.json(start, length, 'header') as Partial<DumpStreamHeader>;
		if (typeof header.serverVersion !== 'string' || !(header.rdbVersion === null || Number.isInteger(header.rdbVersion))) {
			throw this.corrupt('its header lacks serverVersion or rdbVersion', this.offsetOfBuffer + start);
		}

		this.header = {serverVersion: header.serverVersion, rdbVersion: header.rdbVersion ?? null, createdAt: String(header.createdAt ?? '')};
		this.state = 'frames';
		this.options.onHeader?.({rdbVersion: this.header.rdbVersion});
	}

	private parseFrame(): void {
		const at = this.cursor;
		const tag = this.byte();
		switch (tag) {
			case DumpFrame.database: {
				const start = this.cursor;
				this.skip(4);
				this.db = this.buffer.readUInt32LE(start);
				return;
			}

			case DumpFrame.key: {
				this.parseKey(at);
				return;
			}

			case DumpFrame.functions: {
				const length = this.uint64();
				const start = this.cursor;
				this.skip(length);
				this.functionCount++;
				this.options.onFunctions?.({kind: 'function-dump', payload: Buffer.from(this.buffer.subarray(start, start + length))});
				return;
			}

			case DumpFrame.end: {
				const lengthAt = this.cursor;
				this.skip(4);
				const length = this.buffer.readUInt32LE(lengthAt);
				const start = this.cursor;
				this.skip(length);
				const trailer = this.json(start, length, 'END frame') as Partial<DumpStreamTrailer>;
				const counted = this.countsRecord();
				if (trailer.keys !== this.keyCount || JSON.stringify(trailer.keysPerDatabase ?? null) !== JSON.stringify(counted) || trailer.functions !== this.functionCount) {
					throw this.corrupt(
						`its END frame records ${String(trailer.keys)} keys (${JSON.stringify(trailer.keysPerDatabase ?? null)}) but it holds ${this.keyCount} (${JSON.stringify(counted)})`,
						this.offsetOfBuffer + at,
					);
				}

				this.state = 'checksum';
				return;
			}

			default: {
				throw this.corrupt(`frame tag 0x${tag.toString(16)} is not known`, this.offsetOfBuffer + at);
			}
		}
	}

	private parseKey(at: number): void {
		if (this.db === null) {
			throw this.corrupt('a KEY frame comes before any DATABASE frame', this.offsetOfBuffer + at);
		}

		const lengthAt = this.cursor;
		this.skip(4);
		const keyLength = this.buffer.readUInt32LE(lengthAt);
		const keyStart = this.cursor;
		this.skip(keyLength + 8);
		const key = this.buffer.subarray(keyStart, keyStart + keyLength);
		const expiry = this.buffer.readBigInt64LE(keyStart + keyLength);
		const payloadLength = this.uint64();
		const payloadStart = this.cursor;
		this.skip(payloadLength);
		const payload = this.buffer.subarray(payloadStart, payloadStart + payloadLength);
		const trailer = readDumpTrailer(payload);
		if (!trailer?.checksumOk) {
			throw this.corrupt(`the DUMP payload of ${describeKey(key)} fails its CRC64`, this.offsetOfBuffer + payloadStart);
		}

		const type = valueTypeOf(payload[0]!);
		if (type === undefined) {
			throw this.corrupt(`the DUMP payload of ${describeKey(key)} has the unknown type ${payload[0]}`, this.offsetOfBuffer + payloadStart);
		}

		const headerVersion = this.header?.rdbVersion ?? null;
		if (headerVersion === null || trailer.rdbVersion > headerVersion) {
			throw this.corrupt(
				`the DUMP payload of ${describeKey(key)} has RDB version ${trailer.rdbVersion}, but the header says ${String(headerVersion)}`,
				this.offsetOfBuffer + payloadStart,
			);
		}

		const {db} = this;
		this.keysPerDatabase.set(db, (this.keysPerDatabase.get(db) ?? 0) + 1);
		this.keyCount++;
		this.options.onKey?.({
			db,
			key,
			type,
			rdbType: payload[0]!,
			expireAtMs: expiry < 0n ? null : Number(expiry),
			value: payload.subarray(1, payload.length - DUMP_TRAILER_BYTES),
			rdbVersion: trailer.rdbVersion,
			dumpPayload: payload,
		});
	}

	private uint64(): number {
		const at = this.cursor;
		this.skip(8);
		const high = this.buffer.readUInt32LE(at + 4);
		const value = high * TWO_POW_32 + this.buffer.readUInt32LE(at);
		if (value > MAX_FRAME_LENGTH) {
			throw this.corrupt(`a frame announces ${value} bytes`, this.offsetOfBuffer + at);
		}

		return value;
	}

	private json(start: number, length: number, what: string): Record<string, unknown> {
		try {
			const value: unknown = JSON.parse(this.buffer.toString('utf8', start, start + length));
			if (value && typeof value === 'object' && !Array.isArray(value)) {
				return value as Record<string, unknown>;
			}
		} catch {
			// Reported below.
		}

		throw this.corrupt(`its ${what} is not a JSON object`, this.offsetOfBuffer + start);
	}

	private countsRecord(): Record<string, number> {
		return Object.fromEntries([...this.keysPerDatabase].sort((a, b) => a[0] - b[0]).map(([db, count]) => [String(db), count]));
	}

	protected corrupt(problem: string, offset: number): ActionableError {
		return new ActionableError('E_RDB_INVALID', `The Redis dump ${this.options.label} is not valid: ${problem} (byte ${offset}).`, {
			nextStep: 'The artifact is damaged or not an msdb-redis-dump-v1 file; restore from another backup, and check the storage it lives on.',
			details: {artifact: this.options.label, offset},
		});
	}
}
