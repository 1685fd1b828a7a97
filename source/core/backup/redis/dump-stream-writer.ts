/**
 * Encodes `msdb-redis-dump-v1` frames (layout in dump-stream-format.ts), keeping the running
 * CRC64 and the counts that go into the END frame.
 */
import {Crc64} from './crc64.js';
import {DUMP_STREAM_MAGIC, DUMP_STREAM_VERSION, DumpFrame, type DumpStreamHeader, type DumpStreamTrailer} from './dump-stream-format.js';

/** Produces the bytes of one dump artifact, frame by frame, in order. */
export class DumpStreamWriter {
	readonly #crc = new Crc64();
	readonly #keysPerDatabase = new Map<number, number>();
	#keys = 0;
	#functions = 0;
	#db = -1;

	/** Keys written so far. */
	get keys(): number {
		return this.#keys;
	}

	/** Per database, keys written so far. */
	keysPerDatabase(): Record<string, number> {
		return Object.fromEntries([...this.#keysPerDatabase].sort((a, b) => a[0] - b[0]).map(([db, count]) => [String(db), count]));
	}

	header(header: DumpStreamHeader): Buffer {
		const json = Buffer.from(JSON.stringify(header), 'utf8');
		const frame = Buffer.allocUnsafe(DUMP_STREAM_MAGIC.length + 1 + 4 + json.length);
		DUMP_STREAM_MAGIC.copy(frame, 0);
		frame[DUMP_STREAM_MAGIC.length] = DUMP_STREAM_VERSION;
		frame.writeUInt32LE(json.length, DUMP_STREAM_MAGIC.length + 1);
		json.copy(frame, DUMP_STREAM_MAGIC.length + 5);
		return this.#sealed(frame);
	}

	/** The DATABASE frame when `db` differs from the current one, else an empty buffer. */
	database(db: number): Buffer {
		if (db === this.#db) {
			return Buffer.alloc(0);
		}

		this.#db = db;
		const frame = Buffer.allocUnsafe(5);
		frame[0] = DumpFrame.database;
		frame.writeUInt32LE(db, 1);
		return this.#sealed(frame);
	}

	/** A KEY frame; `payload` is exactly what DUMP returned. */
	key(key: Buffer, expireAtMs: number | null, payload: Buffer): Buffer {
		const frame = Buffer.allocUnsafe(1 + 4 + key.length + 8 + 8 + payload.length);
		let at = 0;
		frame[at++] = DumpFrame.key;
		at = frame.writeUInt32LE(key.length, at);
		at += key.copy(frame, at);
		at = frame.writeBigInt64LE(BigInt(expireAtMs ?? -1), at);
		at = writeUInt64(frame, payload.length, at);
		payload.copy(frame, at);
		this.#keys++;
		this.#keysPerDatabase.set(this.#db, (this.#keysPerDatabase.get(this.#db) ?? 0) + 1);
		return this.#sealed(frame);
	}

	/** A FUNCTIONS frame holding a FUNCTION DUMP payload. */
	functions(payload: Buffer): Buffer {
		const frame = Buffer.allocUnsafe(1 + 8 + payload.length);
		frame[0] = DumpFrame.functions;
		writeUInt64(frame, payload.length, 1);
		payload.copy(frame, 9);
		this.#functions++;
		return this.#sealed(frame);
	}

	/** The END frame and the artifact's CRC64: the last bytes of the artifact. */
	end(): Buffer {
		const trailer: DumpStreamTrailer = {keys: this.#keys, keysPerDatabase: this.keysPerDatabase(), functions: this.#functions};
		const json = Buffer.from(JSON.stringify(trailer), 'utf8');
		const frame = Buffer.allocUnsafe(1 + 4 + json.length + 8);
		frame[0] = DumpFrame.end;
		frame.writeUInt32LE(json.length, 1);
		json.copy(frame, 5);
		this.#crc.update(frame, 0, 5 + json.length);
		this.#crc.writeTo(frame, 5 + json.length);
		return frame;
	}

	#sealed(frame: Buffer): Buffer {
		this.#crc.update(frame);
		return frame;
	}
}

function writeUInt64(target: Buffer, value: number, at: number): number {
	target.writeUInt32LE(value % 2 ** 32, at);
	target.writeUInt32LE(Math.floor(value / 2 ** 32), at + 4);
	return at + 8;
}
