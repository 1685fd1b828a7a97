import type pg from 'pg';

/** The duties `msdb worker` runs, each on its own interval. */
export const DUTY_NAMES = ['partition-upkeep', 'session-cleanup', 'state-outbox', 'state-write-behind'] as const;

export type DutyName = (typeof DUTY_NAMES)[number];

/** What a duty gets for one run. */
export type DutyRunContext = {
	/** A `background` pool connection holding the duty's advisory lock for the whole run. */
	client: pg.ClientBase;
	/** Fires when the worker is stopping: finish the current step, then return what was done. */
	stopping: AbortSignal;
	/** A line of news (redacted by the caller): warnings the server sent, what was done. */
	report(message: string): void;
};

/** What one run did; the worker adds it to the duty's totals. */
export type DutyOutcome = {
	/** Said as a status line when the run changed something; undefined for an uneventful run. */
	news: string | undefined;
	/** Partitions created by this run (partition upkeep). */
	partitionsCreated?: string[];
	/** Sessions deleted by this run (session cleanup). */
	sessionsDeleted?: number;
	/** Outbox rows relayed (state outbox). */
	changesRelayed?: number;
	/** Redis copies older than PostgreSQL replaced (state outbox). */
	repairs?: number;
	/** Write-behind entries persisted to PostgreSQL (state write-behind). */
	entriesPersisted?: number;
	/** Entries of a stopped writer claimed (state write-behind). */
	entriesClaimed?: number;
};

/**
 * One background duty. Two workers must not do the same duty at once (twice the deletes, or a
 * partition created twice racing), so each holds a PostgreSQL advisory lock while it runs; the
 * key is fixed, documented, and the same for every msdb process on the database.
 */
export type WorkerDuty = {
	name: DutyName;
	/** bigint as text, for `pg_try_advisory_lock($1::bigint)`. */
	lockKey: string;
	run(context: DutyRunContext): Promise<DutyOutcome>;
};
