/**
 * DUMP payloads (what DUMP returns and RESTORE takes; redis/redis src/cluster.c):
 *
 *   [type byte][serialized value][RDB version: 2 bytes LE][CRC64 of everything before: 8 bytes LE]
 *
 * The type byte and value are the same bytes an RDB file holds for the key, so a payload is
 * built from a parsed RDB record without decoding the value. RESTORE refuses a payload whose
 * version is newer than the server's RDB version or whose CRC64 does not match.
 */
import {Crc64} from './crc64.js';

/** The version and checksum that end every payload. */
export const DUMP_TRAILER_BYTES = 10;

/** Size of the payload for a value of `valueBytes` (type byte and trailer included). */
export function dumpPayloadLength(valueBytes: number): number {
	return 1 + valueBytes + DUMP_TRAILER_BYTES;
}

/**
 * Writes the payload for `rdbType` + `value` into `target` at `offset` (the RESP encoder writes
 * it straight into its output slab, saving a copy per key); returns the bytes written.
 */
export function writeDumpPayload(target: Buffer, offset: number, rdbType: number, value: Uint8Array, rdbVersion: number): number {
	target[offset] = rdbType;
	target.set(value, offset + 1);
	const versionAt = offset + 1 + value.length;
	target.writeUInt16LE(rdbVersion, versionAt);
	new Crc64().update(target, offset, versionAt + 2).writeTo(target, versionAt + 2);
	return dumpPayloadLength(value.length);
}

/** A new DUMP payload for `rdbType` + `value`, sealed with `rdbVersion` and the CRC64. */
export function buildDumpPayload(rdbType: number, value: Uint8Array, rdbVersion: number): Buffer {
	const payload = Buffer.allocUnsafe(dumpPayloadLength(value.length));
	writeDumpPayload(payload, 0, rdbType, value, rdbVersion);
	return payload;
}

/** The trailer of a payload: its RDB version, and whether its CRC64 matches. */
export function readDumpTrailer(payload: Buffer): {rdbVersion: number; checksumOk: boolean} | undefined {
	if (payload.length < 1 + DUMP_TRAILER_BYTES) {
		return undefined;
	}

	const versionAt = payload.length - DUMP_TRAILER_BYTES;
	return {
		rdbVersion: payload.readUInt16LE(versionAt),
		checksumOk: new Crc64().update(payload, 0, versionAt + 2).matches(payload, versionAt + 2),
	};
}
