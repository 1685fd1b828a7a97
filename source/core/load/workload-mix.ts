/**
 * What `msdb load` does, as data: the kinds of operation an agent framework process performs
 * against the data layer, and how often each comes up. The weights follow a read-heavy service
 * (most requests read an agent's record, few write), so a run looks like production traffic to
 * the pools, the cache and Redis rather than like a single-statement microbenchmark.
 */

/** Every operation kind, in the order tables and throughput lines show them. */
export const OPERATION_KINDS = ['agent-read', 'session-get', 'session-churn', 'task-enqueue', 'task-claim', 'message-insert', 'state-write'] as const;

/** One kind of operation the load generator performs. */
export type OperationKind = (typeof OPERATION_KINDS)[number];

/** One kind's share of the mix. */
export type WorkloadShare = {
	kind: OperationKind;
	/** Relative weight; the mix need not add up to 100. 0 leaves the kind out. */
	weight: number;
	/** What one operation of this kind does, for help and docs. */
	description: string;
};

/** A whole mix: the kinds and their weights. */
export type WorkloadMix = readonly WorkloadShare[];

/** The default mix (weights are percentages). */
export const DEFAULT_WORKLOAD_MIX: WorkloadMix = [
	{kind: 'agent-read', weight: 50, description: "an agent's record and state version read through the multi-level cache (loader: a read on the pools)"},
	{kind: 'session-get', weight: 15, description: 'a live session read and touched (RedisSessionStore.get)'},
	{kind: 'session-churn', weight: 5, description: 'a session created; once the pool of live sessions is full, the oldest destroyed'},
	{kind: 'task-enqueue', weight: 10, description: 'a task inserted into tasks.tasks, queued'},
	{kind: 'task-claim', weight: 10, description: 'the next queued task claimed (FOR UPDATE SKIP LOCKED, as workers do), then completed'},
	{kind: 'message-insert', weight: 5, description: 'a message inserted into messages.messages'},
	{kind: 'state-write', weight: 5, description: "an agent's state upserted with version + 1, then its cache entry invalidated"},
];

/** Picks operation kinds in proportion to their weights, from a uniform random number. */
export class WorkloadPicker {
	readonly #kinds: OperationKind[] = [];
	/** Cumulative weights, normalised to end at 1. */
	readonly #bounds: number[] = [];

	constructor(mix: WorkloadMix = DEFAULT_WORKLOAD_MIX) {
		const total = mix.reduce((sum, share) => sum + checkWeight(share), 0);
		if (total <= 0) {
			throw new RangeError('The workload mix has no kind with a positive weight.');
		}

		let running = 0;
		for (const share of mix) {
			if (share.weight > 0) {
				running += share.weight;
				this.#kinds.push(share.kind);
				this.#bounds.push(running / total);
			}
		}
	}

	/** The kinds with a positive weight, in mix order. */
	get kinds(): readonly OperationKind[] {
		return this.#kinds;
	}

	/** The kind for `random` in [0, 1) (Math.random() by default). */
	pick(random: number = Math.random()): OperationKind {
		for (let index = 0; index < this.#bounds.length; index++) {
			if (random < this.#bounds[index]!) {
				return this.#kinds[index]!;
			}
		}

		// Rounding can leave the last bound a hair under 1.
		return this.#kinds[this.#kinds.length - 1]!;
	}
}

function checkWeight(share: WorkloadShare): number {
	if (!OPERATION_KINDS.includes(share.kind)) {
		throw new RangeError(`Unknown operation kind ${JSON.stringify(share.kind)} in the workload mix.`);
	}

	if (!Number.isFinite(share.weight) || share.weight < 0) {
		throw new RangeError(`The weight of ${share.kind} must be a number ≥ 0, got ${String(share.weight)}.`);
	}

	return share.weight;
}
