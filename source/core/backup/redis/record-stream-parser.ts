/**
 * The buffering both artifact parsers share (RDB, msdb-redis-dump-v1): chunks are pushed in,
 * complete records are parsed synchronously, and only the unfinished record stays buffered, so
 * memory is bounded by the largest single record (one key), never the artifact.
 *
 * A subclass parses one record at `cursor` and throws {@link NeedMoreData} (through `byte` /
 * `skip`) when the buffer ends first; it must change no state before the record is complete,
 * because the record is parsed again from its start once more bytes have arrived. The retry waits
 * for at least twice the bytes of the failed attempt (or all that the record asked for), so a
 * huge value made of many small elements is walked a logarithmic number of times, not once per
 * chunk. Every parsed byte except the trailing checksum is folded into the CRC64, lazily, in
 * spans as long as the buffer (folding record by record costs a call per key); a subclass reads
 * it through `checksumSoFar()`.
 */
import type {ActionableError} from '../../errors.js';
import {Crc64} from './crc64.js';

/** Thrown inside a record parser when the buffered bytes end before the record does. */
export class NeedMoreData {
	constructor(readonly until: number) {}
}

const EMPTY = Buffer.alloc(0);

export abstract class RecordStreamParser {
	protected buffer: Buffer = EMPTY;
	/** Read cursor inside `buffer` while a record is parsed. */
	protected cursor = 0;
	/** Absolute artifact offset of `buffer[0]`, for error messages. */
	protected offsetOfBuffer = 0;
	/** CRC64 of the bytes before `buffer[crcFrom]` that count towards it; see `checksumSoFar`. */
	private readonly crc = new Crc64();
	private crcFrom = 0;
	/** Every byte pushed so far. */
	protected bytesIn = 0;
	/** Start of the first unparsed record in `buffer`. */
	private pos = 0;
	private pending: Buffer[] = [];
	private pendingBytes = 0;
	/** Bytes needed from `pos` before the unfinished record is worth another attempt. */
	private need = 0;
	private failure: unknown;

	/** Feeds the next chunk; parses every record it completes. Throws the parser's error, then again on every call. */
	push(chunk: Buffer): void {
		if (this.failure !== undefined) {
			throw this.failure;
		}

		this.bytesIn += chunk.length;
		if (chunk.length === 0) {
			return;
		}

		if (this.complete) {
			this.fail(this.corrupt(`${chunk.length} unexpected byte(s) after its end`, this.bytesIn - chunk.length));
		}

		const available = this.buffer.length - this.pos;
		if (available + this.pendingBytes + chunk.length < this.need) {
			this.pending.push(chunk);
			this.pendingBytes += chunk.length;
			return;
		}

		this.foldChecksum();
		if (available === 0 && this.pending.length === 0) {
			this.offsetOfBuffer += this.buffer.length;
			this.buffer = chunk;
		} else {
			this.offsetOfBuffer += this.pos;
			this.buffer = Buffer.concat([this.buffer.subarray(this.pos), ...this.pending, chunk]);
			this.pending = [];
			this.pendingBytes = 0;
		}

		this.pos = 0;
		this.crcFrom = 0;
		this.need = 0;
		this.run();
	}

	/** True once the artifact's final record (its checksum) has been parsed. */
	protected abstract get complete(): boolean;

	/** Parses one record at `cursor`; returns whether its bytes count towards the CRC64. */
	protected abstract parseRecord(): boolean;

	/** The error for a damaged artifact, naming it and the byte offset. */
	protected abstract corrupt(problem: string, offset: number): ActionableError;

	/** Parses whatever is still buffered; true when the artifact ended where it should. */
	protected finish(): boolean {
		if (this.failure !== undefined) {
			throw this.failure;
		}

		if (this.pending.length > 0) {
			this.foldChecksum();
			this.offsetOfBuffer += this.pos;
			this.buffer = Buffer.concat([this.buffer.subarray(this.pos), ...this.pending]);
			this.pos = 0;
			this.crcFrom = 0;
			this.pending = [];
			this.pendingBytes = 0;
		}

		this.need = 0;
		this.run();
		return this.complete;
	}

	/**
	 * The CRC64 of every checksummed byte before the record being parsed: what a trailing
	 * checksum record compares against.
	 */
	protected checksumSoFar(): Crc64 {
		this.crc.update(this.buffer, this.crcFrom, this.pos);
		this.crcFrom = this.pos;
		return this.crc;
	}

	/** Folds the parsed, not yet folded bytes of the current buffer into the CRC64. */
	private foldChecksum(): void {
		this.crc.update(this.buffer, this.crcFrom, this.pos);
		this.crcFrom = this.pos;
	}

	/** Remembers `error` (later calls rethrow it), drops the buffers, throws. */
	protected fail(error: unknown): never {
		this.failure = error;
		this.buffer = EMPTY;
		this.pending = [];
		throw error;
	}

	protected byte(): number {
		const at = this.cursor;
		if (at >= this.buffer.length) {
			throw new NeedMoreData(at + 1);
		}

		this.cursor = at + 1;
		return this.buffer[at]!;
	}

	protected skip(count: number): void {
		const end = this.cursor + count;
		if (end > this.buffer.length) {
			throw new NeedMoreData(end);
		}

		this.cursor = end;
	}

	private run(): void {
		try {
			this.parseRecords();
		} catch (error) {
			this.fail(error);
		}
	}

	private parseRecords(): void {
		const {buffer} = this;
		while (!this.complete) {
			const start = this.pos;
			if (start >= buffer.length) {
				return;
			}

			this.cursor = start;
			let checksummed: boolean;
			try {
				checksummed = this.parseRecord();
			} catch (error) {
				if (error instanceof NeedMoreData) {
					this.need = Math.max(error.until - start, 2 * (buffer.length - start));
					return;
				}

				throw error;
			}

			if (!checksummed) {
				// Leave this record's bytes out of the CRC64.
				this.crc.update(buffer, this.crcFrom, start);
				this.crcFrom = this.cursor;
			}

			this.pos = this.cursor;
		}

		if (this.pos < buffer.length) {
			throw this.corrupt(`${buffer.length - this.pos} unexpected byte(s) after its end`, this.offsetOfBuffer + this.pos);
		}
	}
}
