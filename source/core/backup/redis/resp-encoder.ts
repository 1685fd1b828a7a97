/**
 * Encodes RESP2 commands into large slabs, so a pipelined mass RESTORE costs one copy of each
 * value (into the slab, where its DUMP trailer and CRC64 are written in place) and one socket
 * write per slab, instead of several small buffers per command.
 *
 * Written for throughput (a restore sends a million commands in a couple of seconds): numbers
 * are formatted digit by digit and short byte runs copied in a loop, because each call into
 * Buffer#write / Buffer#copy costs more than the few bytes it moves; constant fragments are
 * encoded once (`fragment`).
 */
import {dumpPayloadLength, writeDumpPayload} from './dump-payload.js';

const SLAB_BYTES = 256 * 1024;
/** Below this, a JS loop copies faster than a call into Buffer#copy. */
const SHORT_COPY = 48;
const CR = 0x0d;
const LF = 0x0a;

/** Pre-encoded bytes of a constant part of a command (`*6\r\n$7\r\nRESTORE\r\n`), for `raw`. */
export function fragment(text: string): Buffer {
	return Buffer.from(text, 'latin1');
}

/** Accumulates encoded commands; `take()` hands out the bytes to write, in order. */
export class RespEncoder {
	#slab = Buffer.allocUnsafe(SLAB_BYTES);
	#used = 0;
	#filled: Buffer[] = [];
	#filledBytes = 0;

	/** Bytes encoded and not yet taken. */
	get pendingBytes(): number {
		return this.#filledBytes + this.#used;
	}

	/** A whole command. */
	command(args: ReadonlyArray<string | Buffer>): void {
		this.begin(args.length);
		for (const arg of args) {
			this.bulk(typeof arg === 'string' ? Buffer.from(arg) : arg);
		}
	}

	/** Starts a command of `count` arguments; follow with exactly that many arguments. */
	begin(count: number): void {
		this.#ensure(24);
		this.#slab[this.#used++] = 0x2a; // '*'
		this.#decimalLine(count);
	}

	/** Pre-encoded bytes (see {@link fragment}), copied as they are. */
	raw(bytes: Buffer): void {
		this.#ensure(bytes.length);
		this.#copy(bytes);
	}

	/** One argument. */
	bulk(value: Buffer): void {
		this.#ensure(value.length + 24);
		this.#slab[this.#used++] = 0x24; // '$'
		this.#decimalLine(value.length);
		this.#copy(value);
		this.#crlf();
	}

	/** One argument: a non-negative integer, as its decimal text. */
	bulkInteger(value: number): void {
		this.#ensure(48);
		this.#slab[this.#used++] = 0x24;
		const digits = decimalDigits(value);
		this.#decimalLine(digits);
		this.#decimalLine(value);
	}

	/** One argument: the DUMP payload of `rdbType` + `value`, sealed in place. */
	dumpPayload(rdbType: number, value: Buffer, rdbVersion: number): void {
		const bytes = dumpPayloadLength(value.length);
		this.#ensure(bytes + 24);
		this.#slab[this.#used++] = 0x24;
		this.#decimalLine(bytes);
		this.#used += writeDumpPayload(this.#slab, this.#used, rdbType, value, rdbVersion);
		this.#crlf();
	}

	/** The encoded bytes so far, oldest first; the encoder starts empty again. */
	take(): Buffer[] {
		const taken = this.#filled;
		if (this.#used > 0) {
			taken.push(this.#slab.subarray(0, this.#used));
			// The handed-out view must stay intact until written: continue in a fresh slab.
			this.#slab = Buffer.allocUnsafe(SLAB_BYTES);
			this.#used = 0;
		}

		this.#filled = [];
		this.#filledBytes = 0;
		return taken;
	}

	#ensure(bytes: number): void {
		if (this.#used + bytes <= this.#slab.length) {
			return;
		}

		if (this.#used > 0) {
			this.#filled.push(this.#slab.subarray(0, this.#used));
			this.#filledBytes += this.#used;
		}

		this.#slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, bytes));
		this.#used = 0;
	}

	#copy(bytes: Buffer): void {
		const slab = this.#slab;
		let at = this.#used;
		if (bytes.length < SHORT_COPY) {
			for (let index = 0; index < bytes.length; index++) {
				slab[at++] = bytes[index]!;
			}
		} else {
			slab.set(bytes, at);
			at += bytes.length;
		}

		this.#used = at;
	}

	/** `value` in decimal (a non-negative safe integer), then CRLF. */
	#decimalLine(value: number): void {
		const slab = this.#slab;
		let at = this.#used;
		if (value < 10) {
			slab[at++] = 0x30 + value;
		} else {
			const digits = decimalDigits(value);
			let rest = value;
			for (let index = at + digits - 1; index >= at; index--) {
				slab[index] = 0x30 + (rest % 10);
				rest = Math.floor(rest / 10);
			}

			at += digits;
		}

		slab[at++] = CR;
		slab[at++] = LF;
		this.#used = at;
	}

	#crlf(): void {
		this.#slab[this.#used++] = CR;
		this.#slab[this.#used++] = LF;
	}
}

/** Digits of a non-negative safe integer (counted, not Math.log10, which rounds 1000 to 2.999…). */
function decimalDigits(value: number): number {
	let digits = 1;
	for (let power = 10; power <= value; power *= 10) {
		digits++;
	}

	return digits;
}
