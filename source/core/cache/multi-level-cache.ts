import {randomBytes} from 'node:crypto';
import {ActionableError} from '../errors.js';
import type {Cache, CacheLoader, CacheWriteOptions, CacheWriteOutcome, GetOrLoadOptions, InvalidationOutcome} from './cache.js';
import type {CacheEvent, CacheEventListener, L1ClearReason} from './cache-events.js';
import {CacheKeyspace, checkPart} from './cache-keyspace.js';
import {resolveCacheOptions, type MultiLevelCacheOptions, type ResolvedCacheOptions} from './cache-options.js';
import {fillScript, releaseLeaseScript, tagAddScript, versionedSetScript} from './cache-scripts.js';
import type {CacheStats} from './cache-stats.js';
import {deepFreeze} from './deep-freeze.js';
import {InvalidationBus} from './invalidation-bus.js';
import type {Invalidation} from './invalidation-message.js';
import {decodeL2Entry, encodeL2Value, encodeTombstone} from './l2-entry.js';
import {LatencyHistogram} from '../metrics/latency-histogram.js';
import {estimateEntryBytes, MemoryTier, type L1Entry} from './memory-tier.js';
import {L2_UNAVAILABLE, RedisTier} from './redis-tier.js';

/**
 * The multi-level cache: L1 in process (memory-tier.ts) → L2 Redis (redis-tier.ts) → L3 the
 * caller's loader. See cache.ts for the contract and the README's cache section for the
 * guarantees; the notes here say how the pieces fit.
 *
 * Values. Every value is serialized once when it enters the cache (a load or a set) and the
 * first caller already receives the round-tripped copy, so a miss and a later hit return the
 * same shape. In the default `frozen` mode L1 keeps that copy deep-frozen and every hit returns
 * it: no per-hit cost, and a caller that mutates it gets a TypeError instead of corrupting other
 * callers' reads. In `copy` mode L1 keeps the string and each hit deserializes a private copy.
 *
 * Stale L1 fills. A read or load that was in flight when its key was invalidated must not put
 * its (older) result in L1. Each key being read has a {@link ReadGuard}; invalidations mark
 * guards stale, and a stale guard skips the L1 fill and the L2 backfill. Its callers still get
 * the value: their read began before the invalidation.
 */
export class MultiLevelCache implements Cache {
	/** The Redis namespace (`ms:<env>:cache:<namespace>:`). */
	readonly namespace: string;
	/** This instance's name in stats and invalidation messages. */
	readonly instanceId: string;
	readonly #options: ResolvedCacheOptions;
	readonly #keys: CacheKeyspace;
	readonly #l1: MemoryTier | undefined;
	readonly #l2: RedisTier | undefined;
	readonly #bus: InvalidationBus | undefined;
	readonly #guards = new Map<string, ReadGuard>();
	readonly #loads = new Map<string, Flight>();
	readonly #listeners = new Set<CacheEventListener>();
	readonly #background = new Set<Promise<unknown>>();
	readonly #loadLatency = new LatencyHistogram();
	readonly #counters = {
		l1Hits: 0,
		l1Misses: 0,
		l2Hits: 0,
		l2Misses: 0,
		l2Unavailable: 0,
		l2Invalid: 0,
		l2Writes: 0,
		loads: 0,
		loadErrors: 0,
		coalesced: 0,
		staleWritesRefused: 0,
		leaseAcquired: 0,
		leaseWaited: 0,
		leaseFallbacks: 0,
		clears: {'sequence-gap': 0, 'sequence-reset': 0, 'subscription-lost': 0, 'subscription-restored': 0, cleared: 0} satisfies Record<L1ClearReason, number>,
	};
	// Hit and miss events cost an allocation each; they are only built while someone listens.
	#listening = false;
	#closed = false;
	#tombstones = 0;
	readonly #ready: Promise<void>;
	readonly #statsTimer: NodeJS.Timeout | undefined;

	constructor(options: MultiLevelCacheOptions = {}) {
		const resolved = resolveCacheOptions(options);
		this.#options = resolved;
		this.namespace = resolved.namespace;
		this.instanceId = resolved.instanceId;
		this.#keys = new CacheKeyspace(resolved.env, resolved.namespace);
		if (options.onEvent) {
			this.subscribe(options.onEvent);
		}

		if (resolved.l1.enabled) {
			this.#l1 = new MemoryTier({maxEntries: resolved.l1.maxEntries, maxBytes: resolved.l1.maxBytes});
		}

		if (resolved.redis) {
			this.#l2 = new RedisTier({
				client: resolved.redis,
				deadlineMs: resolved.l2.deadlineMs,
				maxBatchKeys: resolved.l2.maxBatchKeys,
				breaker: resolved.l2.breaker,
				onFailure: (operation, reason, message) => {
					// During an outage every read reports one: build the event only for listeners.
					if (this.#listening) {
						this.#emit({type: 'cache:l2-failure', operation, reason, message});
					}
				},
				onBreakerChange: (state, previous) => this.#emit({type: 'cache:breaker', state, previous}),
			});
		}

		if (this.#l2 && resolved.subscriber) {
			this.#bus = new InvalidationBus({
				tier: this.#l2,
				subscriber: resolved.subscriber,
				keyspace: this.#keys,
				instanceId: this.instanceId,
				auditIntervalMs: resolved.invalidation.auditIntervalMs,
				subscribeTimeoutMs: resolved.invalidation.subscribeTimeoutMs,
				apply: invalidation => this.#applyRemote(invalidation),
				reset: reason => this.#clearL1(reason),
			});
			this.#ready = this.#bus.start().then(() => {});
		} else {
			this.#ready = Promise.resolve();
		}

		if (this.#l2 && resolved.stats.publishIntervalMs > 0) {
			this.#statsTimer = setInterval(() => void this.#publishStats(), resolved.stats.publishIntervalMs);
			this.#statsTimer.unref();
			void this.#ready.then(async () => this.#publishStats());
		}
	}

	/** {@inheritDoc Cache.ready} */
	ready(): Promise<void> {
		return this.#ready;
	}

	/** {@inheritDoc Cache.get} */
	get<T = unknown>(key: string): Promise<T | undefined> {
		if (this.#closed) {
			return Promise.reject(closedError());
		}

		const entry = this.#l1?.get(key);
		if (entry !== undefined) {
			return Promise.resolve(this.#l1Hit(key, entry) as T);
		}

		return this.#getFromL2(key) as Promise<T | undefined>;
	}

	/** Counts and reports an L1 hit and returns its value (the hot path of get and getOrLoad). */
	#l1Hit(key: string, entry: L1Entry): unknown {
		this.#counters.l1Hits++;
		if (this.#listening) {
			this.#emit({type: 'cache:hit', level: 'l1', key});
		}

		return this.#fromEntry(entry);
	}

	/** {@inheritDoc Cache.peek} */
	peek<T = unknown>(key: string): T | undefined {
		const entry = this.#l1?.peek(key);
		return entry === undefined ? undefined : (this.#fromEntry(entry) as T);
	}

	/** {@inheritDoc Cache.getOrLoad} */
	getOrLoad<T>(key: string, loader: CacheLoader<T>, options?: GetOrLoadOptions<T>): Promise<T> {
		if (this.#closed) {
			return Promise.reject(closedError());
		}

		const entry = this.#l1?.get(key);
		if (entry !== undefined) {
			return Promise.resolve(this.#l1Hit(key, entry) as T);
		}

		this.#l1Missed(key);
		let flight = this.#loads.get(key);
		if (flight) {
			this.#counters.coalesced++;
		} else {
			const guard = this.#acquireGuard(key);
			const started: Flight = {promise: undefined as unknown as Promise<Loaded | undefined>};
			started.promise = this.#load(key, loader as CacheLoader<unknown>, options as GetOrLoadOptions<unknown> | undefined, guard).finally(() => {
				if (this.#loads.get(key) === started) {
					this.#loads.delete(key);
				}

				this.#releaseGuard(key, guard);
			});
			this.#loads.set(key, started);
			flight = started;
		}

		return flight.promise.then(loaded => (loaded === undefined ? undefined : this.#fromLoaded(loaded))) as Promise<T>;
	}

	/** {@inheritDoc Cache.set} */
	async set<T>(key: string, value: T, options: CacheWriteOptions = {}): Promise<CacheWriteOutcome> {
		this.#assertOpen();
		const l2Key = this.#keys.value(key);
		const tags = this.#checkTags(options.tags);
		const version = checkVersion(options.version);
		const ttlMs = this.#ttl(options.ttlMs);
		const loaded = this.#materialize(key, value);
		// Loads of this key that are in flight read the source before this write.
		this.#markStale(key);
		if (!this.#l2) {
			this.#fillL1(key, loaded, ttlMs, tags, version, undefined);
			return {l2: 'none', broadcast: 'none'};
		}

		const l2TtlMs = this.#l2Ttl(ttlMs);
		const expiresAt = Date.now() + l2TtlMs;
		const stored = encodeL2Value(loaded.serialized, expiresAt, tags, version);
		if (version === undefined) {
			// Read-your-writes on this instance at once; L2 and the others follow.
			this.#fillL1(key, loaded, ttlMs, tags, version, expiresAt);
		}

		if (tags.length > 0) {
			// Indexed before the value exists, so an invalidateTag that runs meanwhile sees the key.
			await this.#addTags(key, tags, expiresAt, l2TtlMs);
		}

		const written =
			version === undefined
				? await this.#l2.call('set', async client => client.set(l2Key, stored, 'PX', l2TtlMs))
				: await this.#l2.call('set', async client => versionedSetScript.run(client, [l2Key], [stored, l2TtlMs, version]));
		let l2: CacheWriteOutcome['l2'];
		if (written === L2_UNAVAILABLE) {
			l2 = 'unavailable';
		} else if (written === 0) {
			l2 = 'refused';
		} else {
			l2 = 'stored';
			this.#counters.l2Writes++;
		}

		if (version !== undefined) {
			if (l2 === 'refused') {
				// L2 has a newer version: an older one in this L1 would hide it.
				this.#l1?.delete(key);
			} else {
				this.#fillL1(key, loaded, ttlMs, tags, version, expiresAt);
			}
		}

		const broadcast = l2 === 'refused' ? 'none' : await this.#broadcast({scope: 'keys', targets: [key]});
		return {l2, broadcast};
	}

	/** {@inheritDoc Cache.delete} */
	async delete(key: string): Promise<InvalidationOutcome> {
		return this.invalidate(key);
	}

	/** {@inheritDoc Cache.invalidate} */
	async invalidate(keys: string | readonly string[]): Promise<InvalidationOutcome> {
		this.#assertOpen();
		const list = typeof keys === 'string' ? [keys] : [...new Set(keys)];
		const l2Keys = list.map(key => this.#keys.value(key));
		let evicted = 0;
		for (const key of list) {
			evicted += this.#l1?.delete(key) ? 1 : 0;
			this.#markStale(key);
		}

		this.#emit({type: 'cache:invalidation', origin: 'local', scope: 'keys', targets: list, evicted});
		const l2 = await this.#writeTombstones(l2Keys, false);
		// After the tombstones: an instance that evicts on this message and reads again must not find the old value.
		const broadcast = await this.#broadcast({scope: 'keys', targets: list});
		return {evicted, l2, broadcast};
	}

	/** {@inheritDoc Cache.invalidatePrefix} */
	async invalidatePrefix(prefix: string): Promise<InvalidationOutcome> {
		this.#assertOpen();
		checkPart(prefix, 'prefix');
		const evicted = this.#l1?.deletePrefix(prefix) ?? 0;
		if (prefix === '') {
			this.#counters.clears.cleared++;
		}

		this.#markStalePrefix(prefix);
		this.#emit({type: 'cache:invalidation', origin: 'local', scope: prefix === '' ? 'all' : 'prefix', targets: [prefix], evicted});
		const l2 = await this.#tombstonePrefix(prefix);
		const broadcast = await this.#broadcast(prefix === '' ? {scope: 'all', targets: []} : {scope: 'prefix', targets: [prefix]});
		return {evicted, l2, broadcast};
	}

	/** {@inheritDoc Cache.invalidateTag} */
	async invalidateTag(tags: string | readonly string[]): Promise<InvalidationOutcome> {
		this.#assertOpen();
		const list = this.#checkTags(typeof tags === 'string' ? [tags] : tags);
		let evicted = 0;
		for (const tag of list) {
			evicted += this.#l1?.deleteTag(tag) ?? 0;
		}

		// A read in flight does not know its tags until it returns: mark them all.
		this.#markAllStale();
		this.#emit({type: 'cache:invalidation', origin: 'local', scope: 'tags', targets: list, evicted});
		let l2: InvalidationOutcome['l2'] = this.#l2 ? 'done' : 'none';
		for (const tag of list) {
			if ((await this.#tombstoneTag(tag)) === 'unavailable') {
				l2 = 'unavailable';
			}
		}

		const broadcast = await this.#broadcast({scope: 'tags', targets: list});
		return {evicted, l2, broadcast};
	}

	/** {@inheritDoc Cache.subscribe} */
	subscribe(listener: CacheEventListener): () => void {
		this.#listeners.add(listener);
		this.#listening = true;
		return () => {
			this.#listeners.delete(listener);
			this.#listening = this.#listeners.size > 0;
		};
	}

	/** {@inheritDoc Cache.stats} */
	stats(): CacheStats {
		const c = this.#counters;
		const l1Reads = c.l1Hits + c.l1Misses;
		const l2 = this.#l2;
		const failures = l2?.failures;
		return {
			namespace: this.namespace,
			instanceId: this.instanceId,
			takenAt: new Date().toISOString(),
			l1: {
				enabled: this.#l1 !== undefined,
				hits: c.l1Hits,
				misses: c.l1Misses,
				hitRatio: l1Reads === 0 ? null : c.l1Hits / l1Reads,
				entries: this.#l1?.size ?? 0,
				bytes: this.#l1?.bytes ?? 0,
				maxEntries: this.#options.l1.maxEntries,
				maxBytes: this.#options.l1.maxBytes,
				evictions: this.#l1?.evictions ?? 0,
				clears: {...c.clears},
			},
			l2: {
				enabled: l2 !== undefined,
				connected: l2?.connected ?? false,
				hits: c.l2Hits,
				misses: c.l2Misses,
				unavailable: c.l2Unavailable,
				invalid: c.l2Invalid,
				writes: c.l2Writes,
				failures: {timeout: failures?.timeout ?? 0, error: failures?.error ?? 0, notReady: failures?.['not-ready'] ?? 0, reply: failures?.reply ?? 0},
				refused: l2?.refused ?? 0,
				latency: (l2?.latency ?? new LatencyHistogram()).summary(),
				batches: l2?.batching.batches ?? 0,
				batchedKeys: l2?.batching.keys ?? 0,
				deadlineMs: this.#options.l2.deadlineMs,
				breaker: l2?.breaker.snapshot() ?? {state: 'closed', consecutiveFailures: 0, opens: 0, reopensAt: undefined, changedAt: 0},
			},
			l3: {
				loads: c.loads,
				loadErrors: c.loadErrors,
				coalesced: c.coalesced,
				latency: this.#loadLatency.summary(),
				staleWritesRefused: c.staleWritesRefused,
				lease: {acquired: c.leaseAcquired, waited: c.leaseWaited, fallbacks: c.leaseFallbacks},
			},
			invalidation: {
				enabled: this.#bus !== undefined,
				...(this.#bus?.snapshot() ?? {
					subscribed: false,
					epoch: undefined,
					lastSeq: undefined,
					published: 0,
					publishFailures: 0,
					received: 0,
					gaps: 0,
					resets: 0,
					subscriptionLosses: 0,
				}),
			},
		};
	}

	/** {@inheritDoc Cache.close} */
	async close(): Promise<void> {
		if (this.#closed) {
			return;
		}

		this.#closed = true;
		clearInterval(this.#statsTimer);
		await this.#bus?.close();
		await Promise.allSettled([...this.#background]);
		if (this.#l2 && this.#options.stats.publishIntervalMs > 0) {
			await this.#l2.call('stats', async client => client.del(this.#keys.stats(this.instanceId)));
		}
	}

	// ── reads ────────────────────────────────────────────────────────────────────────────

	async #getFromL2(key: string): Promise<unknown> {
		const l2Key = this.#keys.value(key);
		this.#l1Missed(key);
		if (!this.#l2) {
			return undefined;
		}

		const guard = this.#acquireGuard(key);
		try {
			const found = await this.#fetchL2(key, l2Key, guard);
			return found.kind === 'hit' ? this.#fromLoaded(found.loaded) : undefined;
		} finally {
			this.#releaseGuard(key, guard);
		}
	}

	async #load(key: string, loader: CacheLoader<unknown>, options: GetOrLoadOptions<unknown> | undefined, guard: ReadGuard): Promise<Loaded | undefined> {
		const l2Key = this.#keys.value(key);
		const tags = this.#checkTags(options?.tags);
		// What L2 held when we looked: '' nothing, else the tombstone; undefined when L2 did not answer.
		let observed: string | undefined;
		if (this.#l2) {
			const found = await this.#fetchL2(key, l2Key, guard);
			if (found.kind === 'hit') {
				return found.loaded;
			}

			observed = found.kind === 'miss' ? found.observed : undefined;
		}

		let leaseToken: string | undefined;
		if (this.#l2 && observed !== undefined && (options?.lease ?? this.#options.lease.enabled)) {
			const lease = await this.#leaseOrWait(key, l2Key, guard, observed);
			if (lease.kind === 'loaded') {
				return lease.loaded;
			}

			observed = lease.observed;
			leaseToken = lease.token;
		}

		let backfilled: Promise<unknown> = Promise.resolve();
		try {
			const started = performance.now();
			let value: unknown;
			try {
				value = await loader({key});
			} catch (error) {
				this.#counters.loadErrors++;
				this.#loaded(key, started, false);
				throw error;
			}

			this.#counters.loads++;
			this.#loaded(key, started, true);
			if (value === undefined) {
				return undefined;
			}

			const loaded = this.#materialize(key, value);
			const version = checkVersion(options?.versionOf?.(value));
			const ttlMs = this.#ttl(options?.ttlMs);
			if (!guard.stale) {
				const l2TtlMs = this.#l2Ttl(ttlMs);
				const expiresAt = Date.now() + l2TtlMs;
				const l1Entry = this.#fillL1(key, loaded, ttlMs, tags, version, expiresAt);
				backfilled = this.#track(this.#backfill(key, l2Key, loaded, {l2TtlMs, expiresAt, tags, version, observed: observed ?? '', l1Entry}));
			}

			return loaded;
		} finally {
			if (leaseToken !== undefined) {
				// After the backfill, so instances polling for this key find the value when the lease goes.
				const token = leaseToken;
				const release = async () => this.#l2?.call('lease-release', async client => releaseLeaseScript.run(client, [this.#keys.lease(key)], [token]));
				this.#track(backfilled.then(release, release));
			}
		}
	}

	async #fetchL2(key: string, l2Key: string, guard: ReadGuard): Promise<FetchResult> {
		const raw = await this.#l2!.get(l2Key);
		if (raw === undefined) {
			this.#counters.l2Unavailable++;
			return UNAVAILABLE_RESULT;
		}

		if (raw === null) {
			return this.#l2Missed(key, '');
		}

		const entry = decodeL2Entry(raw);
		if (entry.kind === 'tombstone') {
			return this.#l2Missed(key, raw);
		}

		let loaded: Loaded | undefined;
		if (entry.kind === 'value') {
			try {
				loaded = this.#fromSerialized(entry.payload);
			} catch {
				loaded = undefined;
			}
		}

		if (entry.kind !== 'value' || loaded === undefined) {
			// Not ours, or not readable by this serializer: a miss. Its fill will keep it (it is not
			// a tombstone) until it expires or is invalidated, rather than overwrite foreign data.
			this.#counters.l2Invalid++;
			return this.#l2Missed(key, '');
		}

		this.#counters.l2Hits++;
		if (this.#listening) {
			this.#emit({type: 'cache:hit', level: 'l2', key});
		}

		if (!guard.stale) {
			const remainingMs = entry.expiresAt - Date.now();
			this.#fillL1(key, loaded, remainingMs, entry.tags, entry.version, entry.expiresAt);
		}

		return {kind: 'hit', loaded};
	}

	/**
	 * The cross-instance lease: take it and load, or wait for its holder's value in L2. A waiter
	 * that sees the lease vanish without a value (its holder died, or its loader failed) takes
	 * it over; one that waited `lease.waitMs` loads by itself, as does everyone when L2 stops
	 * answering.
	 */
	async #leaseOrWait(key: string, l2Key: string, guard: ReadGuard, observed: string): Promise<LeaseOutcome> {
		const l2 = this.#l2!;
		const {ttlMs, waitMs, pollMs} = this.#options.lease;
		const leaseKey = this.#keys.lease(key);
		const token = randomBytes(12).toString('base64url');
		const giveUpAt = Date.now() + waitMs;
		let waited = false;
		for (;;) {
			const taken = await l2.call('lease', async client => client.set(leaseKey, token, 'PX', ttlMs, 'NX'));
			if (taken === L2_UNAVAILABLE) {
				return this.#leaseFallback(key, undefined);
			}

			if (taken === 'OK') {
				if (waited) {
					// The previous holder may have filled L2 between our last look and the SET NX.
					const found = await this.#fetchL2(key, l2Key, guard);
					if (found.kind === 'hit') {
						this.#track(l2.call('lease-release', async client => releaseLeaseScript.run(client, [leaseKey], [token])));
						return this.#leaseWaited(key, found.loaded);
					}

					observed = found.kind === 'miss' ? found.observed : observed;
				}

				this.#counters.leaseAcquired++;
				this.#emit({type: 'cache:lease', key, outcome: 'acquired'});
				return {kind: 'acquired', token, observed};
			}

			waited = true;
			if (Date.now() >= giveUpAt) {
				return this.#leaseFallback(key, observed);
			}

			await sleep(pollMs * (0.75 + Math.random() / 2));
			const found = await this.#fetchL2(key, l2Key, guard);
			if (found.kind === 'hit') {
				return this.#leaseWaited(key, found.loaded);
			}

			if (found.kind === 'unavailable') {
				return this.#leaseFallback(key, undefined);
			}

			observed = found.observed;
		}
	}

	#leaseWaited(key: string, loaded: Loaded): LeaseOutcome {
		this.#counters.leaseWaited++;
		this.#emit({type: 'cache:lease', key, outcome: 'waited'});
		return {kind: 'loaded', loaded};
	}

	#leaseFallback(key: string, observed: string | undefined): LeaseOutcome {
		this.#counters.leaseFallbacks++;
		this.#emit({type: 'cache:lease', key, outcome: 'fallback'});
		return {kind: 'fallback', token: undefined, observed};
	}

	// ── writes ───────────────────────────────────────────────────────────────────────────

	async #backfill(key: string, l2Key: string, loaded: Loaded, write: BackfillWrite): Promise<void> {
		const l2 = this.#l2;
		if (!l2) {
			return;
		}

		if (write.tags.length > 0) {
			// Indexed before the value exists, so an invalidateTag that runs meanwhile tombstones this
			// key and the fill below is refused.
			await this.#addTags(key, write.tags, write.expiresAt, write.l2TtlMs);
		}

		const stored = encodeL2Value(loaded.serialized, write.expiresAt, write.tags, write.version);
		const result = await l2.call('fill', async client => fillScript.run(client, [l2Key], [stored, write.l2TtlMs, write.observed, write.version ?? '']));
		if (result === -1) {
			// Invalidated while the loader ran: what it read may predate the change.
			this.#counters.staleWritesRefused++;
			this.#emit({type: 'cache:stale-write-refused', key});
			if (write.l1Entry !== undefined && this.#l1?.peek(key) === write.l1Entry) {
				this.#l1.delete(key);
			}

			return;
		}

		if (result === 1) {
			this.#counters.l2Writes++;
		}
	}

	async #addTags(key: string, tags: readonly string[], expiresAt: number, ttlMs: number): Promise<void> {
		const now = Date.now();
		await this.#l2?.call('tag', async client =>
			Promise.all(tags.map(async tag => tagAddScript.run(client, [this.#keys.tag(tag)], [key, expiresAt, now, ttlMs]))),
		);
	}

	async #writeTombstones(l2Keys: readonly string[], onlyExisting: boolean): Promise<InvalidationOutcome['l2']> {
		const l2 = this.#l2;
		if (!l2) {
			return 'none';
		}

		const ttl = this.#options.l2.tombstoneTtlMs;
		for (let start = 0; start < l2Keys.length; start += TOMBSTONE_CHUNK) {
			const chunk = l2Keys.slice(start, start + TOMBSTONE_CHUNK);
			const written = await l2.call('tombstone', async client =>
				Promise.all(
					chunk.map(async l2Key =>
						onlyExisting ? client.set(l2Key, this.#tombstone(), 'PX', ttl, 'XX') : client.set(l2Key, this.#tombstone(), 'PX', ttl),
					),
				),
			);
			if (written === L2_UNAVAILABLE) {
				return 'unavailable';
			}
		}

		return 'done';
	}

	async #tombstonePrefix(prefix: string): Promise<InvalidationOutcome['l2']> {
		const l2 = this.#l2;
		if (!l2) {
			return 'none';
		}

		const match = `${this.#keys.valuePrefix}${prefix}*`;
		const masters = l2.masters();
		if (masters.length === 0) {
			// A cluster client that has not loaded its slot map yet knows no primaries to scan.
			return 'unavailable';
		}

		for (const node of masters) {
			let cursor = '0';
			do {
				const page = await l2.call('scan', async () => node.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT));
				if (page === L2_UNAVAILABLE) {
					return 'unavailable';
				}

				cursor = page[0];
				if (page[1].length > 0 && (await this.#writeTombstones(page[1], true)) === 'unavailable') {
					return 'unavailable';
				}
			} while (cursor !== '0');
		}

		return 'done';
	}

	async #tombstoneTag(tag: string): Promise<InvalidationOutcome['l2']> {
		const l2 = this.#l2;
		if (!l2) {
			return 'none';
		}

		const tagKey = this.#keys.tag(tag);
		const members = await l2.call('tag-members', async client => client.zrange(tagKey, 0, -1));
		if (members === L2_UNAVAILABLE) {
			return 'unavailable';
		}

		// Unconditional (not XX): a member whose fill is still in flight gets a tombstone first, so
		// that fill is refused instead of landing after this invalidation.
		const written = await this.#writeTombstones(
			members.map(member => this.#keys.value(member)),
			false,
		);
		if (written === 'unavailable') {
			return written;
		}

		return (await l2.call('tag-delete', async client => client.del(tagKey))) === L2_UNAVAILABLE ? 'unavailable' : 'done';
	}

	async #broadcast(invalidation: Invalidation): Promise<InvalidationOutcome['broadcast']> {
		const bus = this.#bus;
		if (!bus) {
			return 'none';
		}

		for (let start = 0; start < Math.max(1, invalidation.targets.length); start += MESSAGE_TARGETS) {
			const chunk = {scope: invalidation.scope, targets: invalidation.targets.slice(start, start + MESSAGE_TARGETS)};
			if (!(await bus.publish(chunk))) {
				return 'failed';
			}
		}

		return 'sent';
	}

	async #publishStats(): Promise<void> {
		if (this.#closed || !this.#l2) {
			return;
		}

		const interval = this.#options.stats.publishIntervalMs;
		const snapshot = JSON.stringify(this.stats());
		await this.#l2.call('stats', async client => client.set(this.#keys.stats(this.instanceId), snapshot, 'PX', interval * 3));
	}

	// ── L1 ───────────────────────────────────────────────────────────────────────────────

	#fillL1(key: string, loaded: Loaded, ttlMs: number, tags: readonly string[], version: number | undefined, expiresAt: number | undefined): L1Entry | undefined {
		const l1 = this.#l1;
		if (!l1) {
			return undefined;
		}

		let l1TtlMs = Math.min(ttlMs, this.#options.l1.ttlMs);
		if (expiresAt !== undefined) {
			l1TtlMs = Math.min(l1TtlMs, expiresAt - Date.now());
		}

		if (this.#bus && !this.#bus.subscribed) {
			l1TtlMs = Math.min(l1TtlMs, this.#options.l1.unsubscribedTtlMs);
		}

		if (version !== undefined) {
			const current = l1.peek(key);
			if (current?.version !== undefined && current.version > version) {
				return undefined;
			}
		}

		const frozen = this.#options.l1.values === 'frozen';
		const entry: L1Entry = {
			value: frozen ? loaded.value : undefined,
			serialized: frozen ? undefined : loaded.serialized,
			tags,
			version,
			bytes: estimateEntryBytes(key, loaded.serialized.length),
		};
		l1.set(key, entry, l1TtlMs);
		return entry;
	}

	#applyRemote(invalidation: Invalidation): void {
		let evicted = 0;
		const l1 = this.#l1;
		switch (invalidation.scope) {
			case 'keys': {
				for (const key of invalidation.targets) {
					evicted += l1?.delete(key) ? 1 : 0;
					this.#markStale(key);
				}

				break;
			}

			case 'prefix': {
				const prefix = invalidation.targets[0] ?? '';
				evicted = l1?.deletePrefix(prefix) ?? 0;
				this.#markStalePrefix(prefix);
				break;
			}

			case 'tags': {
				for (const tag of invalidation.targets) {
					evicted += l1?.deleteTag(tag) ?? 0;
				}

				this.#markAllStale();
				break;
			}

			case 'all': {
				evicted = l1?.clear() ?? 0;
				this.#markAllStale();
				this.#counters.clears.cleared++;
				break;
			}
		}

		this.#emit({type: 'cache:invalidation', origin: 'remote', scope: invalidation.scope, targets: invalidation.targets, evicted});
	}

	#clearL1(reason: L1ClearReason): void {
		const entries = this.#l1?.clear() ?? 0;
		this.#markAllStale();
		this.#counters.clears[reason]++;
		this.#emit({type: 'cache:l1-cleared', reason, entries});
	}

	// ── read guards ──────────────────────────────────────────────────────────────────────

	#acquireGuard(key: string): ReadGuard {
		let guard = this.#guards.get(key);
		if (guard === undefined) {
			guard = {stale: false, readers: 0};
			this.#guards.set(key, guard);
		}

		guard.readers++;
		return guard;
	}

	#releaseGuard(key: string, guard: ReadGuard): void {
		guard.readers--;
		if (guard.readers === 0 && this.#guards.get(key) === guard) {
			this.#guards.delete(key);
		}
	}

	#markStale(key: string): void {
		const guard = this.#guards.get(key);
		if (guard) {
			guard.stale = true;
			// Reads that start from now on get a fresh guard.
			this.#guards.delete(key);
		}

		// Later getOrLoad calls must not join a load that started before the invalidation.
		this.#loads.delete(key);
	}

	#markStalePrefix(prefix: string): void {
		for (const key of [...this.#guards.keys()]) {
			if (key.startsWith(prefix)) {
				this.#markStale(key);
			}
		}

		for (const key of [...this.#loads.keys()]) {
			if (key.startsWith(prefix)) {
				this.#loads.delete(key);
			}
		}
	}

	#markAllStale(): void {
		for (const guard of this.#guards.values()) {
			guard.stale = true;
		}

		this.#guards.clear();
		this.#loads.clear();
	}

	// ── values ───────────────────────────────────────────────────────────────────────────

	#materialize(key: string, value: unknown): Loaded {
		if (value === undefined) {
			throw new ActionableError('E_CACHE_VALUE_INVALID', `Cannot cache undefined for key ${JSON.stringify(key)}.`, {
				nextStep: 'Cache null for "known to be absent"; a loader returns undefined for "do not cache".',
				details: {key},
			});
		}

		let serialized: string;
		try {
			serialized = this.#options.serializer.serialize(value);
		} catch (error) {
			throw new ActionableError('E_CACHE_VALUE_INVALID', `The value for cache key ${JSON.stringify(key)} cannot be serialized: ${error instanceof Error ? error.message : String(error)}`, {
				nextStep: 'Cache plain data (objects, arrays, strings, numbers, booleans, null), or configure a serializer that handles this type.',
				details: {key},
				cause: error,
			});
		}

		return this.#fromSerialized(serialized);
	}

	/** Throws when the serializer cannot read the text (the caller decides what that means). */
	#fromSerialized(serialized: string): Loaded {
		const value = this.#options.serializer.deserialize(serialized);
		return this.#options.l1.values === 'frozen' ? {value: deepFreeze(value), serialized} : {value: undefined, serialized};
	}

	#fromLoaded(loaded: Loaded): unknown {
		return this.#options.l1.values === 'frozen' ? loaded.value : this.#options.serializer.deserialize(loaded.serialized);
	}

	#fromEntry(entry: L1Entry): unknown {
		return entry.serialized === undefined ? entry.value : this.#options.serializer.deserialize(entry.serialized);
	}

	// ── small helpers ────────────────────────────────────────────────────────────────────

	#l1Missed(key: string): void {
		if (this.#l1) {
			this.#counters.l1Misses++;
			if (this.#listening) {
				this.#emit({type: 'cache:miss', level: 'l1', key});
			}
		}
	}

	#l2Missed(key: string, observed: string): FetchResult {
		this.#counters.l2Misses++;
		if (this.#listening) {
			this.#emit({type: 'cache:miss', level: 'l2', key});
		}

		return {kind: 'miss', observed};
	}

	#loaded(key: string, started: number, ok: boolean): void {
		const durationMs = performance.now() - started;
		this.#loadLatency.record(durationMs);
		if (this.#listening) {
			this.#emit({type: 'cache:load', key, durationMs, ok});
		}
	}

	#ttl(ttlMs: number | undefined): number {
		if (ttlMs === undefined) {
			return this.#options.ttlMs;
		}

		if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
			throw new ActionableError('E_BAD_ARGUMENT', `Cache ttlMs must be a positive number of milliseconds, not ${String(ttlMs)}.`);
		}

		return ttlMs;
	}

	#l2Ttl(ttlMs: number): number {
		// Shorten, never lengthen: the TTL the caller asked for is a bound on staleness.
		return Math.max(1, Math.round(ttlMs * (1 - this.#options.l2.ttlJitter * Math.random())));
	}

	#checkTags(tags: readonly string[] | undefined): readonly string[] {
		if (tags === undefined || tags.length === 0) {
			return NO_TAGS;
		}

		return [...new Set(tags.map(tag => checkPart(tag, 'tag')))];
	}

	#tombstone(): string {
		return encodeTombstone(`${this.instanceId}:${++this.#tombstones}`);
	}

	#track<T>(promise: Promise<T>): Promise<T> {
		this.#background.add(promise);
		void promise.finally(() => this.#background.delete(promise)).catch(() => {});
		return promise;
	}

	#assertOpen(): void {
		if (this.#closed) {
			throw closedError();
		}
	}

	#emit(event: CacheEvent): void {
		for (const listener of this.#listeners) {
			try {
				listener(event);
			} catch {
				// A listener's bug must not break a cache read.
			}
		}
	}
}

/** What a load produced: the serialized form and, in `frozen` mode, the frozen value. */
type Loaded = {value: unknown; serialized: string};

/** In-flight getOrLoad of one key, shared by the callers that join it. */
type Flight = {promise: Promise<Loaded | undefined>};

/** Marks whether the key was invalidated while a read or load of it was in flight. */
type ReadGuard = {stale: boolean; readers: number};

type FetchResult = {kind: 'hit'; loaded: Loaded} | {kind: 'miss'; observed: string} | {kind: 'unavailable'};

type LeaseOutcome = {kind: 'loaded'; loaded: Loaded} | {kind: 'acquired'; token: string; observed: string} | {kind: 'fallback'; token: undefined; observed: string | undefined};

type BackfillWrite = {
	l2TtlMs: number;
	expiresAt: number;
	tags: readonly string[];
	version: number | undefined;
	observed: string;
	l1Entry: L1Entry | undefined;
};

const UNAVAILABLE_RESULT: FetchResult = {kind: 'unavailable'};
const NO_TAGS: readonly string[] = Object.freeze([]);
const TOMBSTONE_CHUNK = 500;
const MESSAGE_TARGETS = 200;
const SCAN_COUNT = 500;

function checkVersion(version: number | undefined): number | undefined {
	if (version !== undefined && (!Number.isSafeInteger(version) || version < 0)) {
		throw new ActionableError('E_BAD_ARGUMENT', `A cache version must be a non-negative safe integer, not ${String(version)}.`, {
			nextStep: 'Use a row counter, xmin, or an updated-at timestamp in milliseconds.',
		});
	}

	return version;
}

function closedError(): ActionableError {
	return new ActionableError('E_CACHE_CLOSED', 'This cache was closed.', {nextStep: 'Create a new MultiLevelCache, or stop using this one after close().'});
}

async function sleep(ms: number): Promise<void> {
	await new Promise(resolve => setTimeout(resolve, ms));
}
