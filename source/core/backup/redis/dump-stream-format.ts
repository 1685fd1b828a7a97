/**
 * `msdb-redis-dump-v1`: the artifact of dump mode (SCAN + DUMP + PTTL), for servers that refuse
 * SYNC (managed services) and for clusters. A sequence of frames, every integer little-endian:
 *
 *   header     "MSDBRDMP" (8 bytes), format version u8 = 1,
 *              u32 n + n bytes of JSON {"serverVersion","rdbVersion","createdAt"}
 *   DATABASE   0x01, u32 db                      the keys that follow belong to `db`
 *   KEY        0x02, u32 n + key (n bytes),
 *              i64 absolute expiry in Unix ms (-1: none),
 *              u64 n + DUMP payload (n bytes)    as DUMP returned it: type byte, value,
 *                                                RDB version (2 bytes), CRC64 (8 bytes)
 *   FUNCTIONS  0x03, u64 n + FUNCTION DUMP payload (n bytes)
 *   END        0xff, u32 n + n bytes of JSON {"keys","keysPerDatabase","functions"},
 *              then the CRC64 (Jones, as in RDB files; 8 bytes) of every byte before it
 *
 * Why not an RDB: a dump-mode backup is built from DUMP payloads, which carry no key name, TTL
 * or database; an RDB would have to be re-encoded around them (and its per-type layout matched)
 * for nothing. Each payload keeps its own CRC64 and the file its trailing one, so verify can
 * check both like an RDB's. `rdbVersion` in the header is the version of the payloads (from the
 * first DUMP trailer), written before any key so a restore can refuse before it writes anything.
 */

/** First bytes of every dump artifact. */
export const DUMP_STREAM_MAGIC = Buffer.from('MSDBRDMP', 'latin1');

/** The framing version after the magic; a parser refuses versions it does not know. */
export const DUMP_STREAM_VERSION = 1;

export const DumpFrame = {
	database: 0x01,
	key: 0x02,
	functions: 0x03,
	end: 0xff,
} as const;

/** The JSON of the header frame. */
export type DumpStreamHeader = {
	serverVersion: string;
	/** Version in the DUMP payloads' trailers (null when the server held no key). */
	rdbVersion: number | null;
	createdAt: string;
};

/** The JSON of the END frame: what the writer wrote, checked by the parser against what it read. */
export type DumpStreamTrailer = {
	keys: number;
	keysPerDatabase: Record<string, number>;
	functions: number;
};

/** Longest u64 length a frame may announce: JS numbers are exact up to 2^53. */
export const MAX_FRAME_LENGTH = Number.MAX_SAFE_INTEGER;
