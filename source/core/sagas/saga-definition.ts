/**
 * What a saga is: a name and steps in order, each with the work (`run`) and, when the work
 * changes something, its undo (`compensate`). The definition is code; the saga log in PostgreSQL
 * refers to it by name and step names, which is how a restarted coordinator finds the code of a
 * saga it resumes. Renaming a saga or its steps, or changing their order, while runs of it are
 * unfinished makes those runs unresumable by the new code (resume() reports and skips them).
 *
 * Inputs and results are stored as JSON: `compensate` receives the result as read back from the
 * log (the same value whether it runs in the process that ran the step or in another one after a
 * crash), so results must be JSON-serialisable.
 */
import type pg from 'pg';
import {ActionableError} from '../errors.js';

/**
 * The step's own PostgreSQL transaction (on the coordinator's primary pool). It begins on the
 * first query and commits together with the step's `done` (or `compensated`) transition in the
 * saga log: the step's database work and the record that it happened are one atomic fact, so a
 * crash leaves neither or both. If the step throws, or the coordinator lost the saga to another
 * one, it rolls back. `msdb.actor` is set to `saga:<name>:<id>` in it, so audit rows name the saga.
 *
 * One connection: do not run queries (or `once()` calls) on it concurrently.
 */
export type SagaDatabase = {
	query<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: readonly unknown[]): Promise<pg.QueryResult<T>>;
};

/** What a step's `run` or `compensate` is told about itself. */
export type SagaStepContext = {
	readonly sagaId: string;
	readonly sagaName: string;
	readonly stepIndex: number;
	readonly stepName: string;
	readonly phase: 'run' | 'compensate';
	/**
	 * `<sagaId>:<index>:<name>` (with `:compensate` appended for compensations): the same on every
	 * attempt and after a restart, so a service the step calls can recognise a retry. Pass it to
	 * whatever the step calls that accepts one (payment APIs, message brokers, `once()`).
	 */
	readonly idempotencyKey: string;
	/** 1 on the first attempt; counts attempts across coordinators (a re-run after a crash is the next one). */
	readonly attempt: number;
	/** The coordinator running this attempt. */
	readonly owner: string;
	readonly db: SagaDatabase;
	/**
	 * Runs `work` at most once per `key`, ever: the key is recorded in
	 * `coordination.idempotency_keys` in the step's transaction ({@link SagaDatabase}), together
	 * with what `work` returned. Whoever comes with the same key later — a retried step, a saga a
	 * caller started again — gets the recorded result and `work` does not run. `work` should do its
	 * database work through `ctx.db`: then the work and its key commit or roll back together. A
	 * concurrent holder of the same key makes this wait until it commits or rolls back.
	 *
	 * The result comes back as JSON (the recorded copy, also on the first call).
	 */
	once<T>(key: string, work: () => Promise<T>): Promise<T>;
};

/** One step. `TResult` must be JSON-serialisable. */
export type SagaStep<TInput = unknown, TResult = unknown> = {
	/** Unique within the saga; part of the idempotency key and of the log. */
	readonly name: string;
	/** Does the work. Throwing fails the attempt; the step's `ctx.db` work is rolled back. */
	run(context: SagaStepContext, input: TInput): Promise<TResult>;
	/**
	 * Undoes a `run` that finished, when a later step failed (or the saga is compensated after a
	 * crash). Must be idempotent: it runs again if it throws or its coordinator dies mid-way.
	 * Without it the step has nothing to undo (a read, a notification) and is marked compensated.
	 */
	compensate?(context: SagaStepContext, input: TInput, result: TResult): Promise<void>;
	/**
	 * How many more times `run` may be tried after an attempt fails, in this process or, after a
	 * crash, by the coordinator that resumes the saga (default 0). Declaring retries says the step
	 * is safe to run again: its effects outside `ctx.db` are idempotent (they use the idempotency
	 * key). A step without retries that was interrupted by a crash is failed, not re-run, and the
	 * saga is compensated.
	 */
	readonly retries?: number;
};

/** A saga as {@link defineSaga} returns it: validated and frozen. */
export type SagaDefinition<TInput = unknown> = {
	readonly name: string;
	readonly steps: ReadonlyArray<SagaStep<TInput>>;
	/** How many more times a failing compensation is tried before the saga is marked failed. */
	readonly compensationRetries: number;
};

/** What {@link defineSaga} takes. */
export type SagaDefinitionInput<TInput> = {
	name: string;
	steps: ReadonlyArray<SagaStep<TInput>>;
	/** Default {@link DEFAULT_COMPENSATION_RETRIES}. */
	compensationRetries?: number;
};

/** A compensation is retried 3 more times (with backoff) before a person is needed. */
export const DEFAULT_COMPENSATION_RETRIES = 3;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-/]*$/;
const MAX_NAME_LENGTH = 200;

/**
 * Validates and freezes a saga: names are non-empty `[A-Za-z0-9_.-/]` (they end up in idempotency
 * keys, where a `:` would be ambiguous), step names are unique, retries are whole numbers.
 * Throws `E_BAD_ARGUMENT` naming what is wrong.
 */
export function defineSaga<TInput = unknown>(definition: SagaDefinitionInput<TInput>): SagaDefinition<TInput> {
	checkName(definition.name, 'saga name');
	if (definition.steps.length === 0) {
		throw new ActionableError('E_BAD_ARGUMENT', `Saga ${definition.name} has no steps.`, {details: {saga: definition.name}});
	}

	const seen = new Set<string>();
	for (const step of definition.steps) {
		checkName(step.name, `step name in saga ${definition.name}`);
		if (seen.has(step.name)) {
			throw new ActionableError('E_BAD_ARGUMENT', `Saga ${definition.name} has two steps named ${step.name}; step names must be unique.`, {
				details: {saga: definition.name, step: step.name},
			});
		}

		seen.add(step.name);
		if (typeof step.run !== 'function') {
			throw new ActionableError('E_BAD_ARGUMENT', `Step ${step.name} of saga ${definition.name} has no run function.`, {
				details: {saga: definition.name, step: step.name},
			});
		}

		checkCount(step.retries ?? 0, `retries of step ${step.name} in saga ${definition.name}`);
	}

	const compensationRetries = definition.compensationRetries ?? DEFAULT_COMPENSATION_RETRIES;
	checkCount(compensationRetries, `compensationRetries of saga ${definition.name}`);
	return Object.freeze({
		name: definition.name,
		steps: Object.freeze(definition.steps.map(step => Object.freeze({...step}))),
		compensationRetries,
	});
}

/**
 * Types a step's result for its `compensate` (inside a `steps` array literal TypeScript infers
 * `unknown` for it): `sagaStep({name, run: async () => ({id: 1}), compensate: async (ctx, input, {id}) => …})`.
 */
export function sagaStep<TInput, TResult>(step: SagaStep<TInput, TResult>): SagaStep<TInput, TResult> {
	return step;
}

/** The key a step's attempts share: `<sagaId>:<index>:<name>`, plus `:compensate` for its compensation. */
export function stepIdempotencyKey(sagaId: string, index: number, name: string, phase: 'run' | 'compensate'): string {
	const key = `${sagaId}:${index}:${name}`;
	return phase === 'run' ? key : `${key}:compensate`;
}

function checkName(name: unknown, what: string): void {
	if (typeof name !== 'string' || name.length > MAX_NAME_LENGTH || !NAME.test(name)) {
		throw new ActionableError('E_BAD_ARGUMENT', `The ${what} ${JSON.stringify(name)} is not valid.`, {
			nextStep: `Use letters, digits and _ . - / (starting with a letter or digit), at most ${MAX_NAME_LENGTH} characters.`,
			details: {name},
		});
	}
}

function checkCount(value: number, what: string): void {
	if (!Number.isInteger(value) || value < 0 || value > 1000) {
		throw new ActionableError('E_BAD_ARGUMENT', `The ${what} must be a whole number from 0 to 1000; got ${String(value)}.`, {
			details: {value},
		});
	}
}
