import {LRUCache} from 'lru-cache';

/**
 * L1: the in-process tier, an LRU bounded by entry count AND estimated bytes, each entry with its
 * own TTL. Plus the in-memory tag index (tag → keys) that lets a tag invalidation evict exactly
 * its entries without scanning.
 *
 * What an entry holds depends on the cache's `l1.values` mode (multi-level-cache.ts): a
 * deep-frozen deserialized value that every hit returns as is, or the serialized string that
 * every hit deserializes into a fresh copy.
 */

export type L1Entry = {
	/** The frozen value (mode `frozen`) or undefined (mode `copy`). */
	readonly value: unknown;
	/** The serialized value (mode `copy`), else undefined. */
	readonly serialized: string | undefined;
	readonly tags: readonly string[];
	readonly version: number | undefined;
	/** Estimated bytes, see {@link estimateEntryBytes}. */
	readonly bytes: number;
};

/**
 * The byte estimate L1's bound uses: the serialized length (which the cache knows for free, it
 * serialized the value for L2 anyway) plus a fixed per-entry overhead for the key, the entry
 * object and the LRU's bookkeeping. It is an estimate, not a measurement: a deserialized object
 * graph typically takes 2–5× its JSON length of heap, so set `l1.maxBytes` with that margin.
 */
export function estimateEntryBytes(key: string, serializedLength: number): number {
	return ENTRY_OVERHEAD_BYTES + key.length * 2 + serializedLength;
}

const ENTRY_OVERHEAD_BYTES = 160;

export type MemoryTierOptions = {
	maxEntries: number;
	maxBytes: number;
};

export class MemoryTier {
	/** Entries pushed out by the entry or byte bound (not expiries, not invalidations). */
	evictions = 0;
	readonly #lru: LRUCache<string, L1Entry>;
	readonly #tagIndex = new Map<string, Set<string>>();

	constructor(options: MemoryTierOptions) {
		this.#lru = new LRUCache<string, L1Entry>({
			max: options.maxEntries,
			maxSize: options.maxBytes,
			ttlAutopurge: false,
			updateAgeOnGet: false,
			allowStale: false,
			dispose: (entry, key, reason) => {
				if (reason === 'evict') {
					this.evictions++;
				}

				if (entry.tags.length > 0) {
					this.#unindex(key, entry.tags);
				}
			},
		});
	}

	/** The live entry (refreshes its recency). */
	get(key: string): L1Entry | undefined {
		return this.#lru.get(key);
	}

	/** The live entry without touching recency. */
	peek(key: string): L1Entry | undefined {
		return this.#lru.peek(key);
	}

	/** Stores an entry for `ttlMs`; an entry larger than the whole byte bound is not stored. */
	set(key: string, entry: L1Entry, ttlMs: number): void {
		if (ttlMs < 1) {
			this.#lru.delete(key);
			return;
		}

		this.#lru.set(key, entry, {ttl: Math.ceil(ttlMs), size: entry.bytes});
		if (entry.tags.length > 0 && this.#lru.peek(key) === entry) {
			for (const tag of entry.tags) {
				let keys = this.#tagIndex.get(tag);
				if (!keys) {
					keys = new Set();
					this.#tagIndex.set(tag, keys);
				}

				keys.add(key);
			}
		}
	}

	/** Removes one key; true when it was there. */
	delete(key: string): boolean {
		return this.#lru.delete(key);
	}

	/** Removes every key starting with `prefix`; returns how many. O(entries). */
	deletePrefix(prefix: string): number {
		if (prefix === '') {
			return this.clear();
		}

		const doomed: string[] = [];
		for (const key of this.#lru.keys()) {
			if (key.startsWith(prefix)) {
				doomed.push(key);
			}
		}

		for (const key of doomed) {
			this.#lru.delete(key);
		}

		return doomed.length;
	}

	/** Removes every entry stored with `tag`; returns how many. */
	deleteTag(tag: string): number {
		const keys = this.#tagIndex.get(tag);
		if (!keys) {
			return 0;
		}

		let deleted = 0;
		for (const key of [...keys]) {
			if (this.#lru.delete(key)) {
				deleted++;
			}
		}

		this.#tagIndex.delete(tag);
		return deleted;
	}

	/** Drops everything; returns how many entries there were. */
	clear(): number {
		const entries = this.#lru.size;
		this.#lru.clear();
		this.#tagIndex.clear();
		return entries;
	}

	/** Entries held (expired ones count until touched). */
	get size(): number {
		return this.#lru.size;
	}

	/** Estimated bytes held. */
	get bytes(): number {
		return this.#lru.calculatedSize;
	}

	#unindex(key: string, tags: readonly string[]): void {
		for (const tag of tags) {
			const keys = this.#tagIndex.get(tag);
			if (keys) {
				keys.delete(key);
				if (keys.size === 0) {
					this.#tagIndex.delete(tag);
				}
			}
		}
	}
}
