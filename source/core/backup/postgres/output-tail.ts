import type {Readable} from 'node:stream';
import {redact} from '../../redact.js';

/** Enough for pg_dump's / pg_restore's last few error lines, however chatty they were before. */
const DEFAULT_LIMIT_BYTES = 16 * 1024;

/**
 * Keeps the last `limit` bytes a child process wrote to stderr, so an error can quote what the
 * program said without the buffer growing with a long `--verbose` run. Text is redacted when
 * read: libpq echoes connection strings, and a password must never reach a log.
 */
export class OutputTail {
	#chunks: Buffer[] = [];
	#bytes = 0;

	constructor(private readonly limit = DEFAULT_LIMIT_BYTES) {}

	/** Collects everything `stream` emits until it ends. */
	follow(stream: Readable | null | undefined): this {
		stream?.on('data', (chunk: Buffer | string) => {
			this.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
		});
		return this;
	}

	push(chunk: Buffer): void {
		this.#chunks.push(chunk);
		this.#bytes += chunk.length;
		while (this.#bytes - (this.#chunks[0]?.length ?? 0) >= this.limit && this.#chunks.length > 1) {
			this.#bytes -= this.#chunks.shift()?.length ?? 0;
		}
	}

	/** The collected text, trimmed and redacted; '' when the program said nothing. */
	text(): string {
		const whole = Buffer.concat(this.#chunks);
		const tail = whole.length > this.limit ? whole.subarray(whole.length - this.limit) : whole;
		return redact(tail.toString('utf8').trim());
	}
}
