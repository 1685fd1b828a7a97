/**
 * Collects the L2 reads issued in the same tick and sends them as one MGET per cluster slot
 * (one MGET in all on a standalone server), instead of one GET per key: N cold reads cost one
 * round trip, and callers that each await their read and then read again (a server under load)
 * fall into step and share round trips from then on.
 *
 * "The same tick" = everything the current macrotask and its promise jobs request: the flush is
 * a process.nextTick queued from a microtask, so it runs after the microtask queue has drained
 * (the way DataLoader batches). A key requested twice in one batch is read once.
 */

/** What a batch run returns: one value (or null) per key, in order, or `undefined` when L2 gave no answer. */
export type BatchRunner = (keys: string[]) => Promise<Array<string | null> | undefined>;

type Waiter = {
	promise: Promise<string | null | undefined>;
	resolve: (value: string | null | undefined) => void;
};

export type MgetBatcherOptions = {
	run: BatchRunner;
	/** The key's cluster slot, or undefined on a standalone server (one group). */
	slotOf: ((key: string) => number) | undefined;
	/** Largest MGET sent; bigger groups are split (huge commands block Redis and break pipelines). */
	maxKeys: number;
};

export class MgetBatcher {
	/** MGETs sent. */
	batches = 0;
	/** Keys read through them. */
	keys = 0;
	#pending: Map<string, Waiter> | undefined;
	readonly #options: MgetBatcherOptions;

	constructor(options: MgetBatcherOptions) {
		this.#options = options;
	}

	/** The raw string at `key` (null when absent), or undefined when L2 did not answer. */
	get(key: string): Promise<string | null | undefined> {
		let pending = this.#pending;
		if (pending === undefined) {
			pending = new Map();
			this.#pending = pending;
			queueMicrotask(() => process.nextTick(() => this.#flush()));
		} else {
			const waiting = pending.get(key);
			if (waiting) {
				return waiting.promise;
			}
		}

		let resolve!: Waiter['resolve'];
		const promise = new Promise<string | null | undefined>(settle => {
			resolve = settle;
		});
		pending.set(key, {promise, resolve});
		return promise;
	}

	#flush(): void {
		const pending = this.#pending;
		this.#pending = undefined;
		if (!pending) {
			return;
		}

		const {slotOf, maxKeys} = this.#options;
		if (slotOf === undefined) {
			this.#send([...pending.keys()], pending, maxKeys);
			return;
		}

		const groups = new Map<number, string[]>();
		for (const key of pending.keys()) {
			const slot = slotOf(key);
			const group = groups.get(slot);
			if (group) {
				group.push(key);
			} else {
				groups.set(slot, [key]);
			}
		}

		for (const group of groups.values()) {
			this.#send(group, pending, maxKeys);
		}
	}

	#send(keys: string[], pending: Map<string, Waiter>, maxKeys: number): void {
		for (let start = 0; start < keys.length; start += maxKeys) {
			const chunk = keys.length <= maxKeys ? keys : keys.slice(start, start + maxKeys);
			this.batches++;
			this.keys += chunk.length;
			this.#options.run(chunk).then(
				values => {
					for (let index = 0; index < chunk.length; index++) {
						pending.get(chunk[index]!)!.resolve(values === undefined ? undefined : (values[index] ?? null));
					}
				},
				() => {
					// The runner reports failures as undefined; this only guards against a bug in it.
					for (const key of chunk) {
						pending.get(key)!.resolve(undefined);
					}
				},
			);
		}
	}
}
