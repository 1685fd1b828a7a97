/**
 * An incremental RESP2 reply parser for the raw connections of backup and restore. Replies there
 * are tiny (`+OK`, an error, a short bulk), so the common `+OK\r\n` is recognised without
 * allocating, and a partial reply is simply parsed again when more bytes arrive.
 */

/** An error reply (`-ERR …`, `-NOPERM …`), as a value: pipelined callers decide what it means. */
export class RespErrorReply {
	constructor(readonly message: string) {}
}

export type RespReply = string | number | Buffer | null | RespErrorReply | RespReply[];

class Incomplete {
	constructor(readonly until: number) {}
}

const INCOMPLETE_LINE = new Incomplete(0);

/** Feed bytes with `push`; it calls `onReply` once per complete reply, in order. */
export class RespReplyReader {
	#buffer: Buffer = Buffer.alloc(0);
	#offset = 0;
	/** Bytes needed (from `#offset`) before another attempt is worthwhile. */
	#need = 0;
	#pending: Buffer[] = [];
	#pendingBytes = 0;

	constructor(private readonly onReply: (reply: RespReply) => void) {}

	/** Bytes received and not yet consumed as replies. */
	takeLeftover(): Buffer {
		const leftover = Buffer.concat([this.#buffer.subarray(this.#offset), ...this.#pending]);
		this.#buffer = Buffer.alloc(0);
		this.#offset = 0;
		this.#pending = [];
		this.#pendingBytes = 0;
		return leftover;
	}

	push(chunk: Buffer): void {
		const available = this.#buffer.length - this.#offset;
		if (available + this.#pendingBytes + chunk.length < this.#need) {
			this.#pending.push(chunk);
			this.#pendingBytes += chunk.length;
			return;
		}

		this.#buffer = available === 0 && this.#pending.length === 0 ? chunk : Buffer.concat([this.#buffer.subarray(this.#offset), ...this.#pending, chunk]);
		this.#offset = 0;
		this.#pending = [];
		this.#pendingBytes = 0;
		this.#need = 0;
		const buffer = this.#buffer;
		while (this.#offset < buffer.length) {
			const start = this.#offset;
			// The common case of a pipelined RESTORE: "+OK\r\n".
			if (buffer[start] === 0x2b && buffer[start + 1] === 0x4f && buffer[start + 2] === 0x4b && buffer[start + 3] === 0x0d && buffer[start + 4] === 0x0a) {
				this.#offset = start + 5;
				this.onReply('OK');
				continue;
			}

			let reply: RespReply;
			try {
				[reply, this.#offset] = parseReply(buffer, start);
			} catch (error) {
				if (error instanceof Incomplete) {
					this.#need = Math.max(error.until - start, buffer.length - start + 1);
					return;
				}

				throw error;
			}

			this.onReply(reply);
		}
	}
}

function lineEnd(buffer: Buffer, from: number): number {
	const end = buffer.indexOf(0x0d, from);
	if (end === -1 || end + 1 >= buffer.length) {
		throw INCOMPLETE_LINE;
	}

	return end;
}

function parseReply(buffer: Buffer, start: number): [RespReply, number] {
	if (start >= buffer.length) {
		throw INCOMPLETE_LINE;
	}

	const end = lineEnd(buffer, start + 1);
	const line = buffer.toString('utf8', start + 1, end);
	const next = end + 2;
	switch (buffer[start]) {
		case 0x2b: {
			// '+'
			return [line, next];
		}

		case 0x2d: {
			// '-'
			return [new RespErrorReply(line), next];
		}

		case 0x3a: {
			// ':'
			return [Number(line), next];
		}

		case 0x24: {
			// '$'
			const length = Number(line);
			if (length < 0) {
				return [null, next];
			}

			if (next + length + 2 > buffer.length) {
				throw new Incomplete(next + length + 2);
			}

			return [Buffer.from(buffer.subarray(next, next + length)), next + length + 2];
		}

		case 0x2a: {
			// '*'
			const count = Number(line);
			if (count < 0) {
				return [null, next];
			}

			const items: RespReply[] = [];
			let at = next;
			for (let index = 0; index < count; index++) {
				let item: RespReply;
				[item, at] = parseReply(buffer, at);
				items.push(item);
			}

			return [items, at];
		}

		default: {
			throw new Error(`Redis sent a reply that is not RESP2 (first byte 0x${buffer[start]!.toString(16)})`);
		}
	}
}
