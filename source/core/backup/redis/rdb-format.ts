/**
 * The numbers of the RDB format (redis/redis src/rdb.h) that the parser, the DUMP payload builder
 * and the restore need, in one place.
 */

/** Oldest RDB version read: 5 (Redis 2.6) is the first with a CRC64 trailer. */
export const MIN_RDB_VERSION = 5;

/**
 * Newest RDB version read: 12 (Redis 7.4, hash-field expiry). Redis refuses a file above its own
 * RDB_VERSION rather than guess, and so does msdb: a later version can change any encoding.
 */
export const MAX_RDB_VERSION = 12;

export const RdbOpcode = {
	slotInfo: 244,
	function2: 245,
	functionPreGa: 246,
	moduleAux: 247,
	idle: 248,
	freq: 249,
	aux: 250,
	resizeDb: 251,
	expireTimeMs: 252,
	expireTime: 253,
	selectDb: 254,
	eof: 255,
} as const;

/** RDB object type bytes (the first byte of a DUMP payload). */
export const RdbType = {
	string: 0,
	list: 1,
	set: 2,
	zset: 3,
	hash: 4,
	zset2: 5,
	modulePreGa: 6,
	module2: 7,
	hashZipmap: 9,
	listZiplist: 10,
	setIntset: 11,
	zsetZiplist: 12,
	hashZiplist: 13,
	listQuicklist: 14,
	streamListpacks: 15,
	hashListpack: 16,
	zsetListpack: 17,
	listQuicklist2: 18,
	streamListpacks2: 19,
	setListpack: 20,
	streamListpacks3: 21,
	hashMetadataPreGa: 22,
	hashListpackExPreGa: 23,
	hashMetadata: 24,
	hashListpackEx: 25,
} as const;

/** The Redis data type a key holds, as TYPE reports it. */
export type RedisValueType = 'string' | 'list' | 'set' | 'zset' | 'hash' | 'stream' | 'module';

const VALUE_TYPES: ReadonlyMap<number, RedisValueType> = new Map([
	[RdbType.string, 'string'],
	[RdbType.list, 'list'],
	[RdbType.listZiplist, 'list'],
	[RdbType.listQuicklist, 'list'],
	[RdbType.listQuicklist2, 'list'],
	[RdbType.set, 'set'],
	[RdbType.setIntset, 'set'],
	[RdbType.setListpack, 'set'],
	[RdbType.zset, 'zset'],
	[RdbType.zset2, 'zset'],
	[RdbType.zsetZiplist, 'zset'],
	[RdbType.zsetListpack, 'zset'],
	[RdbType.hash, 'hash'],
	[RdbType.hashZipmap, 'hash'],
	[RdbType.hashZiplist, 'hash'],
	[RdbType.hashListpack, 'hash'],
	[RdbType.hashMetadataPreGa, 'hash'],
	[RdbType.hashListpackExPreGa, 'hash'],
	[RdbType.hashMetadata, 'hash'],
	[RdbType.hashListpackEx, 'hash'],
	[RdbType.streamListpacks, 'stream'],
	[RdbType.streamListpacks2, 'stream'],
	[RdbType.streamListpacks3, 'stream'],
	[RdbType.modulePreGa, 'module'],
	[RdbType.module2, 'module'],
]);

// Indexed by type byte: the parser asks once per key, and an array index beats a Map lookup.
const VALUE_TYPE_BY_BYTE: ReadonlyArray<RedisValueType | undefined> = Array.from({length: 256}, (_, byte) => VALUE_TYPES.get(byte));

/** The data type of an RDB object type byte, or undefined for a byte that is no object type. */
export function valueTypeOf(rdbType: number): RedisValueType | undefined {
	return VALUE_TYPE_BY_BYTE[rdbType];
}

/**
 * The RDB version a Redis server writes, from its version string; for an empty server in dump
 * mode, where no DUMP payload can tell. Valkey reports redis_version 7.2.4 and writes 11 up to
 * its 8.x, which this mapping gets right too.
 */
export function rdbVersionForServer(serverVersion: string): number | null {
	const match = /^(\d+)\.(\d+)/.exec(serverVersion);
	if (!match) {
		return null;
	}

	const major = Number(match[1]);
	const minor = Number(match[2]);
	const version = major * 100 + minor;
	if (version >= 704) {
		return 12;
	}

	if (version >= 702) {
		return 11;
	}

	if (version >= 700) {
		return 10;
	}

	if (version >= 500) {
		return 9;
	}

	if (version >= 400) {
		return 8;
	}

	return version >= 302 ? 7 : null;
}

/**
 * The 9-character name of a module type from its 64-bit id (the top 54 bits, 6 bits a
 * character, as moduleTypeNameByID does), so a refusal can say which module a value needs.
 */
export function moduleTypeName(moduleId: bigint): string {
	const charset = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
	let id = moduleId >> 10n;
	let name = '';
	for (let index = 0; index < 9; index++) {
		name = charset[Number(id & 63n)]! + name;
		id >>= 6n;
	}

	return name;
}
