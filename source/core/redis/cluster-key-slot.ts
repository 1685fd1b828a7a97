/**
 * The Redis Cluster hash slot of a key: CRC16/XMODEM of the key, or of its first non-empty
 * `{hash tag}`, mod 16384. The cache needs it to split batched reads into one MGET per slot
 * (keys spanning slots fail with CROSSSLOT); restores need it to send each key to its master.
 *
 * Computed here rather than imported from `cluster-key-slot` because that package is only a
 * transitive dependency of ioredis; an undeclared import would break the day ioredis drops it.
 * The tests check this against `CLUSTER KEYSLOT` on a real cluster.
 */

export const CLUSTER_SLOTS = 16_384;

const TABLE = buildTable();
const encoder = new TextEncoder();

function buildTable(): Uint16Array {
	const table = new Uint16Array(256);
	for (let byte = 0; byte < 256; byte++) {
		let crc = byte << 8;
		for (let bit = 0; bit < 8; bit++) {
			crc = crc & 0x80_00 ? (crc << 1) ^ 0x10_21 : crc << 1;
		}

		table[byte] = crc & 0xff_ff;
	}

	return table;
}

/**
 * The slot of a key given as bytes. Restored keys are arbitrary bytes that may not survive a
 * round trip through a JS string, so this is the primitive; {@link clusterKeySlot} wraps it.
 */
export function keySlot(key: Uint8Array): number {
	let start = 0;
	let end = key.length;
	// Only the first `{`, and the first `}` after it, count; an empty tag `{}` hashes the whole key.
	const open = key.indexOf(0x7b);
	if (open !== -1) {
		const close = key.indexOf(0x7d, open + 1);
		if (close > open + 1) {
			start = open + 1;
			end = close;
		}
	}

	let crc = 0;
	for (let index = start; index < end; index++) {
		crc = ((crc << 8) & 0xff_ff) ^ TABLE[((crc >> 8) ^ key[index]!) & 0xff]!;
	}

	return crc % CLUSTER_SLOTS;
}

/** The slot Redis Cluster stores `key` (a string, UTF-8 encoded) in. */
export function clusterKeySlot(key: string): number {
	return keySlot(encoder.encode(key));
}
