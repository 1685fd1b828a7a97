/**
 * The saga log: the SQL kept together as data, the rows it returns, and {@link SagaLog}, which
 * runs it on whatever connection the coordinator hands it (a pool, or the step's transaction).
 *
 * Every transition is one statement that changes the saga or step row and appends its event to
 * `coordination.saga_events`, so the state and the log can never disagree. Every statement that
 * changes a saga checks that the caller still owns it (`owner = $owner` on an unfinished saga)
 * and renews the owner's lease while it is at it: a coordinator that lost the saga to another
 * one (its lease expired: a long GC pause, a network partition) changes nothing, and learns so
 * from the empty result. Tables: migrations/0013_sagas.sql, docs/schema.md.
 */
import type pg from 'pg';

/** Where a saga is: forward (`running`), undoing (`compensating`), or finished (the other three). */
export type SagaStatus = 'running' | 'compensating' | 'completed' | 'compensated' | 'failed';
/** Where a step is. `compensation_failed`: its compensation failed for good; the saga is `failed`. */
export type SagaStepStatus = 'pending' | 'running' | 'done' | 'failed' | 'compensating' | 'compensated' | 'compensation_failed';
/** The log's event names (a CHECK constraint holds the table to this list). */
export type SagaEventName =
	| 'saga:started'
	| 'saga:claimed'
	| 'saga:compensating'
	| 'saga:completed'
	| 'saga:compensated'
	| 'saga:failed'
	| 'saga:compensation-retry'
	| 'step:running'
	| 'step:attempt-failed'
	| 'step:done'
	| 'step:failed'
	| 'step:compensating'
	| 'step:compensation-attempt-failed'
	| 'step:compensated'
	| 'step:compensation-failed';

/** One saga run as stored. */
export type SagaRecord = {
	id: string;
	name: string;
	status: SagaStatus;
	input: unknown;
	/** The coordinator driving it now, or the last one that did. */
	owner: string;
	leaseMs: number;
	heartbeatAt: Date;
	leaseExpiresAt: Date;
	/** The step whose failure started the compensation. */
	failedStep: number | undefined;
	error: string | undefined;
	createdAt: Date;
	updatedAt: Date;
	finishedAt: Date | undefined;
};

/** One step of a saga run as stored. */
export type SagaStepRecord = {
	index: number;
	name: string;
	status: SagaStepStatus;
	idempotencyKey: string;
	attempts: number;
	compensationAttempts: number;
	/** What `run` returned (JSON), once it is done. */
	result: unknown;
	error: string | undefined;
	compensationError: string | undefined;
	startedAt: Date | undefined;
	finishedAt: Date | undefined;
	compensatedAt: Date | undefined;
};

/** One transition in the log. */
export type SagaEvent = {
	/** Increases in the order the events were written. */
	id: number;
	sagaId: string;
	sagaName: string;
	type: SagaEventName;
	/** Undefined for the saga's own events (`saga:*`). */
	stepIndex: number | undefined;
	stepName: string | undefined;
	/** The saga's (saga events) or the step's (step events) status after the event. */
	status: string;
	/** The step's attempt (`step:running` …) or compensation attempt (`step:compensat…`). */
	attempt: number | undefined;
	owner: string;
	error: string | undefined;
	/** `step:done`: the result; `saga:started`: the step names; `saga:claimed`: the previous owner. */
	details: unknown;
	occurredAt: Date;
};

/** Everything the log holds about one saga. */
export type SagaHistory = {
	saga: SagaRecord;
	/** Every step, in order, also the ones that never ran (`pending`). */
	steps: SagaStepRecord[];
	/** Every transition, in order. */
	events: SagaEvent[];
};

/** A statement runner: a pool's or a client's `query`. */
export type SagaQuery = (text: string, values: readonly unknown[]) => Promise<pg.QueryResult>;

/** Unfinished saga states: the ones a coordinator drives and heartbeats. */
const ACTIVE = `('running', 'compensating')`;
const LEASE = (parameter: string) => `now() + ${parameter}::int * interval '1 millisecond'`;
const SAGA_COLUMNS = `id, name, status::text AS status, input, owner, lease_ms, heartbeat_at, lease_expires_at, failed_step, error, created_at, updated_at, finished_at`;
const STEP_COLUMNS = `step_index, name, status::text AS status, idempotency_key, attempts, compensation_attempts, result, error, compensation_error, started_at, finished_at, compensated_at`;
const EVENT_COLUMNS = `id::float8 AS id, saga_id, step_index, step_name, event, status, attempt, owner, error, details, occurred_at`;

/**
 * A step transition. $1 saga id, $2 owner, $3 step index, $4 lease ms, $5 event, $6 error,
 * $7 details (JSON). `set` may use $6 and $7; the event's attempt is the compensation attempt for
 * compensation events.
 */
const stepTransition = (set: string) => `WITH saga AS (
	UPDATE coordination.sagas
	SET updated_at = now(), heartbeat_at = now(), lease_expires_at = ${LEASE('$4')}
	WHERE id = $1::uuid AND owner = $2::text AND status IN ${ACTIVE}
	RETURNING id, name
), step AS (
	UPDATE coordination.saga_steps s
	SET ${set}
	FROM saga
	WHERE s.saga_id = saga.id AND s.step_index = $3::int
	RETURNING s.*, saga.name AS saga_name
), logged AS (
	INSERT INTO coordination.saga_events (saga_id, step_index, step_name, event, status, attempt, owner, error, details)
	SELECT saga_id, step_index, name, $5::text, status::text,
		CASE WHEN $5::text LIKE 'step:compensat%' THEN compensation_attempts ELSE attempts END,
		$2::text, $6::text, $7::jsonb
	FROM step
	RETURNING *
)
SELECT ${EVENT_COLUMNS}, (SELECT saga_name FROM step) AS saga_name, (SELECT result FROM step) AS result FROM logged`;

/**
 * A saga transition. $1 saga id, $2 owner, $3 lease ms, $4 event, $5 error, $6 failed step,
 * $7 details (JSON).
 */
const sagaTransition = (set: string) => `WITH saga AS (
	UPDATE coordination.sagas
	SET ${set}, failed_step = coalesce($6::int, failed_step), updated_at = now(), heartbeat_at = now(), lease_expires_at = ${LEASE('$3')}
	WHERE id = $1::uuid AND owner = $2::text AND status IN ${ACTIVE}
	RETURNING id, name, status
), logged AS (
	INSERT INTO coordination.saga_events (saga_id, event, status, owner, error, details)
	SELECT id, $4::text, status::text, $2::text, $5::text, $7::jsonb FROM saga
	RETURNING *
)
SELECT ${EVENT_COLUMNS}, (SELECT name FROM saga) AS saga_name FROM logged`;

/** The statements, by name. */
export const SAGA_SQL = {
	/** $1 name, $2 input (JSON), $3 owner, $4 lease ms, $5 step names (text[]). The saga, its steps (pending) and `saga:started`, at once. */
	start: `WITH saga AS (
	INSERT INTO coordination.sagas (name, input, owner, lease_ms, lease_expires_at)
	VALUES ($1::text, $2::jsonb, $3::text, $4::int, ${LEASE('$4')})
	RETURNING *
), steps AS (
	INSERT INTO coordination.saga_steps (saga_id, step_index, name, idempotency_key)
	SELECT saga.id, step.ordinality - 1, step.name, saga.id || ':' || (step.ordinality - 1) || ':' || step.name
	FROM saga, unnest($5::text[]) WITH ORDINALITY AS step (name, ordinality)
), logged AS (
	INSERT INTO coordination.saga_events (saga_id, event, status, owner, details)
	SELECT id, 'saga:started', status::text, owner, jsonb_build_object('steps', to_jsonb($5::text[])) FROM saga
	RETURNING *
)
SELECT ${EVENT_COLUMNS}, $1::text AS saga_name FROM logged`,

	/**
	 * $1 claimant, $2 names it has code for (text[]), $3 its lease ms. Takes the unfinished saga
	 * whose lease expired longest ago. FOR UPDATE SKIP LOCKED: two coordinators claiming at the
	 * same moment take different sagas (or one takes it and the other none), never the same one,
	 * and neither waits for the other. Once claimed, the lease is fresh, so later scans pass it by.
	 */
	claim: `WITH candidate AS (
	SELECT id, owner AS previous_owner, lease_expires_at AS expired_at
	FROM coordination.sagas
	WHERE status IN ${ACTIVE} AND lease_expires_at < now() AND name = ANY ($2::text[])
	ORDER BY lease_expires_at
	LIMIT 1
	FOR UPDATE SKIP LOCKED
), claimed AS (
	UPDATE coordination.sagas s
	SET owner = $1::text, lease_ms = $3::int, heartbeat_at = now(), lease_expires_at = ${LEASE('$3')}, updated_at = now()
	FROM candidate
	WHERE s.id = candidate.id
	RETURNING s.id, s.name, s.status, candidate.previous_owner, candidate.expired_at
), logged AS (
	INSERT INTO coordination.saga_events (saga_id, event, status, owner, details)
	SELECT id, 'saga:claimed', status::text, $1::text, jsonb_build_object('previousOwner', previous_owner, 'leaseExpiredAt', expired_at)
	FROM claimed
	RETURNING *
)
SELECT ${EVENT_COLUMNS}, (SELECT name FROM claimed) AS saga_name FROM logged`,

	/**
	 * $1 saga id, $2 claimant, $3 lease ms. A person fixed what made a compensation fail: the
	 * failed saga goes back to compensating under the claimant, and the step whose compensation
	 * failed gets a fresh count of attempts.
	 */
	retryCompensation: `WITH saga AS (
	UPDATE coordination.sagas
	SET status = 'compensating', owner = $2::text, lease_ms = $3::int, heartbeat_at = now(), lease_expires_at = ${LEASE('$3')},
		updated_at = now(), finished_at = NULL
	WHERE id = $1::uuid AND status = 'failed'
	RETURNING id, name, status
), steps AS (
	UPDATE coordination.saga_steps s SET compensation_attempts = 0
	FROM saga WHERE s.saga_id = saga.id AND s.status = 'compensation_failed'
), logged AS (
	INSERT INTO coordination.saga_events (saga_id, event, status, owner)
	SELECT id, 'saga:compensation-retry', status::text, $2::text FROM saga
	RETURNING *
)
SELECT ${EVENT_COLUMNS}, (SELECT name FROM saga) AS saga_name FROM logged`,

	/** $1 saga ids (uuid[]), $2 owner, $3 lease ms. Renews the leases of the sagas the owner is driving. */
	heartbeat: `UPDATE coordination.sagas
SET heartbeat_at = now(), lease_expires_at = ${LEASE('$3')}
WHERE id = ANY ($1::uuid[]) AND owner = $2::text AND status IN ${ACTIVE}`,

	/** $1 saga id. */
	saga: `SELECT ${SAGA_COLUMNS} FROM coordination.sagas WHERE id = $1::uuid`,
	/** $1 saga id. */
	steps: `SELECT ${STEP_COLUMNS} FROM coordination.saga_steps WHERE saga_id = $1::uuid ORDER BY step_index`,
	/** $1 saga id, $2 step index. */
	step: `SELECT ${STEP_COLUMNS} FROM coordination.saga_steps WHERE saga_id = $1::uuid AND step_index = $2::int`,
	/** $1 saga id. */
	events: `SELECT ${EVENT_COLUMNS}, (SELECT name FROM coordination.sagas WHERE id = $1::uuid) AS saga_name
FROM coordination.saga_events WHERE saga_id = $1::uuid ORDER BY id`,

	stepRunning: stepTransition(`status = 'running', attempts = s.attempts + 1, started_at = now(), finished_at = NULL`),
	/** The attempt failed and another follows; the step stays running. */
	stepAttemptFailed: stepTransition(`error = $6::text`),
	stepDone: stepTransition(`status = 'done', result = $7::jsonb, error = NULL, finished_at = now()`),
	stepFailed: stepTransition(`status = 'failed', error = $6::text, finished_at = now()`),
	stepCompensating: stepTransition(`status = 'compensating', compensation_attempts = s.compensation_attempts + 1`),
	stepCompensationAttemptFailed: stepTransition(`compensation_error = $6::text`),
	/** Also for a step without a compensation: nothing to undo, so it counts as undone. */
	stepCompensated: stepTransition(`status = 'compensated', compensation_error = NULL, compensated_at = now()`),
	stepCompensationFailed: stepTransition(`status = 'compensation_failed', compensation_error = $6::text`),

	sagaCompensating: sagaTransition(`status = 'compensating', error = $5::text`),
	sagaCompleted: sagaTransition(`status = 'completed', finished_at = now()`),
	sagaCompensated: sagaTransition(`status = 'compensated', finished_at = now()`),
	/** The saga keeps the error that made it compensate; the compensation's error goes into the event (and the step). */
	sagaFailed: sagaTransition(`status = 'failed', finished_at = now()`),

	/**
	 * ctx.once(): $1 key, $2 saga id, $3 step index. Inserting the key is the claim: a concurrent
	 * transaction with the same key waits on the unique index until this one ends.
	 */
	onceClaim: `INSERT INTO coordination.idempotency_keys (key, saga_id, step_index) VALUES ($1::text, $2::uuid, $3::int)
ON CONFLICT (key) DO NOTHING RETURNING key`,
	/** $1 key. */
	onceRecorded: `SELECT result FROM coordination.idempotency_keys WHERE key = $1::text`,
	/** $1 key, $2 result (JSON). */
	onceRecord: `UPDATE coordination.idempotency_keys SET result = $2::jsonb WHERE key = $1::text RETURNING result`,
} as const;

/** Step transitions, by the statement that makes them. */
export type StepTransition =
	| 'stepRunning'
	| 'stepAttemptFailed'
	| 'stepDone'
	| 'stepFailed'
	| 'stepCompensating'
	| 'stepCompensationAttemptFailed'
	| 'stepCompensated'
	| 'stepCompensationFailed';
/** Saga transitions, by the statement that makes them. */
export type SagaTransition = 'sagaCompensating' | 'sagaCompleted' | 'sagaCompensated' | 'sagaFailed';

const STEP_EVENTS: Record<StepTransition, SagaEventName> = {
	stepRunning: 'step:running',
	stepAttemptFailed: 'step:attempt-failed',
	stepDone: 'step:done',
	stepFailed: 'step:failed',
	stepCompensating: 'step:compensating',
	stepCompensationAttemptFailed: 'step:compensation-attempt-failed',
	stepCompensated: 'step:compensated',
	stepCompensationFailed: 'step:compensation-failed',
};

const SAGA_EVENTS: Record<SagaTransition, SagaEventName> = {
	sagaCompensating: 'saga:compensating',
	sagaCompleted: 'saga:completed',
	sagaCompensated: 'saga:compensated',
	sagaFailed: 'saga:failed',
};

/** A logged step transition and the step's result as stored. */
export type LoggedStepTransition = {event: SagaEvent; result: unknown};

/** Runs the log's statements; each method returns undefined when the caller no longer owns the saga. */
export class SagaLog {
	constructor(
		private readonly owner: string,
		private readonly leaseMs: number,
	) {}

	async start(query: SagaQuery, name: string, inputJson: string, stepNames: readonly string[]): Promise<SagaEvent> {
		const result = await query(SAGA_SQL.start, [name, inputJson, this.owner, this.leaseMs, stepNames]);
		return eventOf(onlyRow(result));
	}

	async claim(query: SagaQuery, names: readonly string[]): Promise<SagaEvent | undefined> {
		const row = (await query(SAGA_SQL.claim, [this.owner, names, this.leaseMs])).rows[0] as Row | undefined;
		return row ? eventOf(row) : undefined;
	}

	async retryCompensation(query: SagaQuery, sagaId: string): Promise<SagaEvent | undefined> {
		const row = (await query(SAGA_SQL.retryCompensation, [sagaId, this.owner, this.leaseMs])).rows[0] as Row | undefined;
		return row ? eventOf(row) : undefined;
	}

	/** How many of the sagas still belong to this owner (their leases renewed). */
	async heartbeat(query: SagaQuery, sagaIds: readonly string[]): Promise<number> {
		return (await query(SAGA_SQL.heartbeat, [sagaIds, this.owner, this.leaseMs])).rowCount ?? 0;
	}

	async step(
		query: SagaQuery,
		transition: StepTransition,
		sagaId: string,
		index: number,
		options: {error?: string; detailsJson?: string} = {},
	): Promise<LoggedStepTransition | undefined> {
		const result = await query(SAGA_SQL[transition], [sagaId, this.owner, index, this.leaseMs, STEP_EVENTS[transition], options.error ?? null, options.detailsJson ?? null]);
		const row = result.rows[0] as Row | undefined;
		return row ? {event: eventOf(row), result: row.result} : undefined;
	}

	async saga(
		query: SagaQuery,
		transition: SagaTransition,
		sagaId: string,
		options: {error?: string; failedStep?: number; detailsJson?: string} = {},
	): Promise<SagaEvent | undefined> {
		const result = await query(SAGA_SQL[transition], [
			sagaId,
			this.owner,
			this.leaseMs,
			SAGA_EVENTS[transition],
			options.error ?? null,
			options.failedStep ?? null,
			options.detailsJson ?? null,
		]);
		const row = result.rows[0] as Row | undefined;
		return row ? eventOf(row) : undefined;
	}

	async readSaga(query: SagaQuery, sagaId: string): Promise<SagaRecord | undefined> {
		const row = (await query(SAGA_SQL.saga, [sagaId])).rows[0] as Row | undefined;
		return row ? sagaOf(row) : undefined;
	}

	async readSteps(query: SagaQuery, sagaId: string): Promise<SagaStepRecord[]> {
		return (await query(SAGA_SQL.steps, [sagaId])).rows.map(row => stepOf(row as Row));
	}

	async readStep(query: SagaQuery, sagaId: string, index: number): Promise<SagaStepRecord | undefined> {
		const row = (await query(SAGA_SQL.step, [sagaId, index])).rows[0] as Row | undefined;
		return row ? stepOf(row) : undefined;
	}

	async readEvents(query: SagaQuery, sagaId: string): Promise<SagaEvent[]> {
		return (await query(SAGA_SQL.events, [sagaId])).rows.map(row => eventOf(row as Row));
	}
}

/** A saga id as PostgreSQL's uuid type accepts it (anything else would be a SQL error, not "not found"). */
export function isSagaId(value: string): boolean {
	return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

type Row = Record<string, unknown>;

function onlyRow(result: pg.QueryResult): Row {
	return result.rows[0] as Row;
}

const optional = <T>(value: unknown): T | undefined => (value === null || value === undefined ? undefined : (value as T));

function sagaOf(row: Row): SagaRecord {
	return {
		id: row.id as string,
		name: row.name as string,
		status: row.status as SagaStatus,
		input: row.input,
		owner: row.owner as string,
		leaseMs: row.lease_ms as number,
		heartbeatAt: row.heartbeat_at as Date,
		leaseExpiresAt: row.lease_expires_at as Date,
		failedStep: optional<number>(row.failed_step),
		error: optional<string>(row.error),
		createdAt: row.created_at as Date,
		updatedAt: row.updated_at as Date,
		finishedAt: optional<Date>(row.finished_at),
	};
}

function stepOf(row: Row): SagaStepRecord {
	return {
		index: row.step_index as number,
		name: row.name as string,
		status: row.status as SagaStepStatus,
		idempotencyKey: row.idempotency_key as string,
		attempts: row.attempts as number,
		compensationAttempts: row.compensation_attempts as number,
		result: row.result,
		error: optional<string>(row.error),
		compensationError: optional<string>(row.compensation_error),
		startedAt: optional<Date>(row.started_at),
		finishedAt: optional<Date>(row.finished_at),
		compensatedAt: optional<Date>(row.compensated_at),
	};
}

function eventOf(row: Row): SagaEvent {
	return {
		id: row.id as number,
		sagaId: row.saga_id as string,
		sagaName: row.saga_name as string,
		type: row.event as SagaEventName,
		stepIndex: optional<number>(row.step_index),
		stepName: optional<string>(row.step_name),
		status: row.status as string,
		attempt: optional<number>(row.attempt),
		owner: row.owner as string,
		error: optional<string>(row.error),
		details: optional<unknown>(row.details),
		occurredAt: row.occurred_at as Date,
	};
}
