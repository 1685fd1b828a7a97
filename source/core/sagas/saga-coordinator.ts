/**
 * Runs sagas ({@link defineSaga}) with their log in PostgreSQL, so that a coordinator that dies
 * mid-saga is not the end of it: another one (or the same service restarted) resumes it.
 *
 * Forward: steps run in order. Each attempt is logged before it starts (`step:running`); its
 * `ctx.db` work commits in one transaction with `step:done` and the result. A step that throws
 * is tried again while it has retries left (`step:attempt-failed`, backoff); then it is failed,
 * the saga turns to `compensating`, and the steps that are done are compensated in reverse order.
 *
 * Ownership: every saga has an owner (this coordinator's `owner`) and a lease that the owner's
 * heartbeat renews every `leaseMs / 3`. `resume()` claims unfinished sagas whose lease expired —
 * their owner died or hangs — with `FOR UPDATE SKIP LOCKED`, so two resumers never take the same
 * saga. Every write checks ownership, so a coordinator that wakes up after losing its saga changes
 * nothing (its step work rolls back) and stops with `E_SAGA_LEASE_LOST`.
 *
 * Crash recovery, decided per step of the claimed saga:
 * - saga `running`, step `pending` (the owner died between steps): run it; nothing had started.
 * - saga `running`, step `running` (the owner died during the step): its `ctx.db` work rolled back
 *   with the dead owner's connection; whether it did anything elsewhere is unknown. A step with
 *   retries left is re-run (declaring retries says a re-run is safe: it passes its idempotency key
 *   on); a step without is failed ("interrupted") and the saga is compensated. No guessing.
 * - saga `compensating`: compensation carries on in reverse order; a compensation that was
 *   interrupted is run again (compensations must be idempotent), within its retry budget.
 *
 * Compensation failures: a compensation that throws is retried `compensationRetries` times (default
 * 3) with backoff. Then the step is `compensation_failed`, the saga `failed` — compensation stops
 * there, leaving the earlier steps done, because an earlier undo may depend on the later one having
 * happened. A failed saga needs a person: resume() leaves it alone; once the cause is fixed,
 * `retryCompensation(sagaId)` carries on where it stopped.
 */
import {randomBytes} from 'node:crypto';
import {hostname} from 'node:os';
import type pg from 'pg';
import type {DatabaseConfig} from '../config/database-config.js';
import {ActionableError, BugError, MsdbError} from '../errors.js';
import {DatabasePools} from '../pools/database-pools.js';
import {resolvePoolsConfig} from '../pools/pool-config.js';
import {stepIdempotencyKey, type SagaDefinition, type SagaStepContext} from './saga-definition.js';
import {isSagaId, SagaLog, type SagaEvent, type SagaHistory, type SagaQuery, type SagaStepRecord, type SagaTransition, type StepTransition} from './saga-log.js';
import {StepTransaction, toJson} from './step-transaction.js';

/** How a coordinator reaches PostgreSQL, who it is, and how it behaves. */
export type SagaCoordinatorOptions = {
	/** Shared pools (the primary role is used); close() leaves them open. */
	pools?: DatabasePools;
	/** Without `pools`: pools are opened for this database (else DATABASE_URL / PG*) and closed by close(). */
	database?: DatabaseConfig;
	/** Unique per running coordinator; default `<host>:<pid>:<random>`. */
	owner?: string;
	/**
	 * How long the coordinator's claim on a saga lasts without a heartbeat (default 30 s). Another
	 * coordinator resumes a saga this long after its owner's last sign of life, so: longer than
	 * any pause the process may have (GC, a stalled VM), short enough to recover promptly.
	 */
	leaseMs?: number;
	/** First wait before a retry (default 500 ms), doubled for each further one, at most 30 s. */
	retryDelayMs?: number;
	/** Definitions this coordinator may resume (start() registers the one it is given, too). */
	sagas?: readonly SagaDefinition[];
	/** Told about every transition as it is logged. A throwing listener is ignored. */
	onEvent?: (event: SagaEvent) => void;
};

/** How a saga ended (in this call). */
export type SagaOutcome = {
	sagaId: string;
	name: string;
	status: 'completed' | 'compensated' | 'failed';
	/** What each step's run returned, as stored; undefined for steps that did not finish. */
	results: unknown[];
	/** The step whose failure made the saga compensate, and its error. */
	failedStep: {index: number; name: string; error: string} | undefined;
	/** `failed` only: the compensation that failed for good, and its error. */
	compensationFailure: {index: number; name: string; error: string} | undefined;
};

/** What one resume() pass did. */
export type ResumeReport = {
	/** Sagas claimed and driven to an end. */
	resumed: SagaOutcome[];
	/** Sagas claimed but not finished: their code changed (step names differ), the lease was lost, or a server failed. */
	skipped: Array<{sagaId: string; name: string; reason: string}>;
};

export const DEFAULT_LEASE_MS = 30_000;
export const DEFAULT_RETRY_DELAY_MS = 500;
const MAX_RETRY_DELAY_MS = 30_000;
const MIN_LEASE_MS = 50;

/** One saga being driven by this coordinator. */
/** Running a step or compensating it: what differs between the two, for #attempt. */
type StepPhase = {
	phase: 'run' | 'compensate';
	maxAttempts: number;
	/** Set when a coordinator died during an attempt of this phase (the log says it was under way). */
	interrupted: {attempts: number; error: string; noRetries: string} | undefined;
	started: StepTransition;
	attemptFailed: StepTransition;
	finished: 'done' | 'compensated';
	work(context: SagaStepContext): Promise<{detailsJson?: string}>;
	fail(error: string): Promise<void>;
};

type Run = {
	definition: SagaDefinition;
	sagaId: string;
	input: unknown;
	steps: SagaStepRecord[];
};

/** Runs, resumes and compensates sagas; see the module comment for the policies. */
export class SagaCoordinator {
	/** Written into the log as the owner of what this coordinator drives. */
	readonly owner: string;
	readonly leaseMs: number;
	readonly #retryDelayMs: number;
	readonly #pools: DatabasePools;
	readonly #ownsPools: boolean;
	readonly #log: SagaLog;
	readonly #query: SagaQuery;
	readonly #onEvent: ((event: SagaEvent) => void) | undefined;
	readonly #registry = new Map<string, SagaDefinition>();
	/** Sagas being driven now: the heartbeat renews their leases. */
	readonly #active = new Set<string>();
	readonly #inFlight = new Set<Promise<unknown>>();
	#heartbeat: NodeJS.Timeout | undefined;
	#beating = false;
	#closed = false;

	constructor(options: SagaCoordinatorOptions = {}) {
		this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
		if (typeof this.owner !== 'string' || this.owner.trim() === '') {
			throw new ActionableError('E_BAD_ARGUMENT', 'The saga coordinator owner must be a non-empty string.', {details: {owner: this.owner}});
		}

		this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
		if (!Number.isInteger(this.leaseMs) || this.leaseMs < MIN_LEASE_MS || this.leaseMs > 2_147_483_647) {
			throw new ActionableError('E_BAD_ARGUMENT', `leaseMs must be a whole number of milliseconds, at least ${MIN_LEASE_MS}; got ${String(this.leaseMs)}.`, {
				details: {leaseMs: this.leaseMs},
			});
		}

		this.#retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
		if (!Number.isFinite(this.#retryDelayMs) || this.#retryDelayMs < 0) {
			throw new ActionableError('E_BAD_ARGUMENT', `retryDelayMs must be 0 or more; got ${String(this.#retryDelayMs)}.`, {
				details: {retryDelayMs: this.#retryDelayMs},
			});
		}

		this.#ownsPools = options.pools === undefined;
		this.#pools = options.pools ?? new DatabasePools(resolvePoolsConfig({databaseUrl: options.database?.connectionString}));
		this.#query = async (text, values) => this.#pools.query('primary', text, values);
		this.#log = new SagaLog(this.owner, this.leaseMs);
		this.#onEvent = options.onEvent;
		this.register(...(options.sagas ?? []));
	}

	/**
	 * Makes definitions resumable by this coordinator: resume() claims only sagas whose name is
	 * registered. Throws `E_BAD_ARGUMENT` when another definition already has the name.
	 */
	register(...definitions: readonly SagaDefinition[]): this {
		for (const definition of definitions) {
			const known = this.#registry.get(definition.name);
			if (known && known !== definition) {
				throw new ActionableError('E_BAD_ARGUMENT', `Another saga definition is already registered as ${definition.name}.`, {
					nextStep: 'Register each definition once (define it in one module and import it), or give the new one its own name.',
					details: {saga: definition.name},
				});
			}

			this.#registry.set(definition.name, definition);
		}

		return this;
	}

	/**
	 * Starts a saga and drives it to its end: `completed`, `compensated` (a step failed and the
	 * done steps were undone in reverse order) or `failed` (a compensation failed for good; see
	 * the outcome). Step failures are outcomes, not exceptions. Throws when the saga cannot go on
	 * here — a server failed (another coordinator resumes it once this one's lease expires), the
	 * lease was lost (`E_SAGA_LEASE_LOST`), or the input is not JSON (`E_BAD_ARGUMENT`).
	 */
	async start<TInput>(saga: SagaDefinition<TInput>, input: TInput): Promise<SagaOutcome> {
		this.#assertOpen('start');
		const definition = saga as SagaDefinition;
		this.register(definition);
		const inputJson = toJson(input, `The input of saga ${saga.name}`);
		return this.#track(async () => {
			const started = await this.#log.start(
				this.#query,
				saga.name,
				inputJson,
				saga.steps.map(step => step.name),
			);
			this.#emit(started);
			return this.#drive(definition, started.sagaId);
		});
	}

	/**
	 * Claims, one at a time, unfinished sagas of registered definitions whose owner's lease has
	 * expired, and drives each to its end (policies: the module comment). Call it when the
	 * service starts and then periodically (every lease or so). Throws only when claiming itself
	 * fails (PostgreSQL unreachable).
	 */
	async resume(options: {limit?: number} = {}): Promise<ResumeReport> {
		this.#assertOpen('resume');
		const report: ResumeReport = {resumed: [], skipped: []};
		const names = [...this.#registry.keys()];
		const limit = options.limit ?? Number.POSITIVE_INFINITY;
		while (names.length > 0 && report.resumed.length + report.skipped.length < limit) {
			const claimed = await this.#log.claim(this.#query, names);
			if (!claimed) {
				break;
			}

			this.#emit(claimed);
			const definition = this.#registry.get(claimed.sagaName);
			try {
				if (!definition) {
					throw new BugError(`Claimed saga ${claimed.sagaId} of unregistered definition ${claimed.sagaName}.`);
				}

				report.resumed.push(await this.#track(async () => this.#drive(definition, claimed.sagaId)));
			} catch (error) {
				report.skipped.push({sagaId: claimed.sagaId, name: claimed.sagaName, reason: messageOf(error)});
			}
		}

		return report;
	}

	/**
	 * Carries on compensating a `failed` saga once a person fixed what made its compensation fail:
	 * the failed compensation gets a fresh retry budget. Throws `E_BAD_ARGUMENT` when the saga is
	 * unknown, not failed, or its definition is not registered here.
	 */
	async retryCompensation(sagaId: string): Promise<SagaOutcome> {
		this.#assertOpen('retryCompensation');
		const saga = isSagaId(sagaId) ? await this.#log.readSaga(this.#query, sagaId) : undefined;
		if (!saga) {
			throw new ActionableError('E_BAD_ARGUMENT', `There is no saga ${sagaId}.`, {details: {sagaId}});
		}

		const definition = this.#registry.get(saga.name);
		if (!definition) {
			throw new ActionableError('E_BAD_ARGUMENT', `Saga ${sagaId} is a ${saga.name}, which this coordinator has no definition for.`, {
				nextStep: `Register the ${saga.name} definition (SagaCoordinator options.sagas or register()) first.`,
				details: {sagaId, name: saga.name},
			});
		}

		return this.#track(async () => {
			const claimed = await this.#log.retryCompensation(this.#query, sagaId);
			if (!claimed) {
				throw new ActionableError('E_BAD_ARGUMENT', `Saga ${sagaId} is not failed (it is ${saga.status}); only failed sagas can retry their compensation.`, {
					details: {sagaId, status: saga.status},
				});
			}

			this.#emit(claimed);
			return this.#drive(definition, sagaId);
		});
	}

	/** The saga's record, every step and every logged transition; undefined when there is no such saga. */
	async history(sagaId: string): Promise<SagaHistory | undefined> {
		this.#assertOpen('history');
		return this.#history(sagaId);
	}

	async #history(sagaId: string): Promise<SagaHistory | undefined> {
		if (!isSagaId(sagaId)) {
			return undefined;
		}

		const saga = await this.#log.readSaga(this.#query, sagaId);
		if (!saga) {
			return undefined;
		}

		const [steps, events] = await Promise.all([this.#log.readSteps(this.#query, sagaId), this.#log.readEvents(this.#query, sagaId)]);
		return {saga, steps, events};
	}

	/**
	 * Waits for the sagas this coordinator is driving to end, stops the heartbeat, and closes the
	 * pools it opened. Idempotent.
	 */
	async close(): Promise<void> {
		if (this.#closed) {
			return;
		}

		this.#closed = true;
		await Promise.allSettled([...this.#inFlight]);
		clearInterval(this.#heartbeat);
		this.#heartbeat = undefined;
		if (this.#ownsPools) {
			await this.#pools.close();
		}
	}

	async #drive(definition: SagaDefinition, sagaId: string): Promise<SagaOutcome> {
		this.#active.add(sagaId);
		this.#startHeartbeat();
		try {
			const saga = await this.#log.readSaga(this.#query, sagaId);
			if (!saga) {
				throw new BugError(`Saga ${sagaId} disappeared while this coordinator was driving it.`);
			}

			const run: Run = {definition, sagaId, input: saga.input, steps: await this.#log.readSteps(this.#query, sagaId)};
			checkSameSteps(run, saga.name);
			if (saga.status === 'running' && (await this.#forward(run))) {
				await this.#sagaTransition(this.#query, 'sagaCompleted', sagaId);
			} else if (saga.status === 'running' || saga.status === 'compensating') {
				await this.#compensate(run);
			}

			return await this.#outcome(sagaId);
		} finally {
			this.#active.delete(sagaId);
			if (this.#active.size === 0) {
				clearInterval(this.#heartbeat);
				this.#heartbeat = undefined;
			}
		}
	}

	/** Runs the steps not yet done, in order; false when one failed and the saga turned to compensating. */
	async #forward(run: Run): Promise<boolean> {
		for (const record of run.steps) {
			if (record.status === 'done') {
				continue;
			}

			if (record.status !== 'pending' && record.status !== 'running') {
				// Step failure and the turn to compensating are one transaction; only a hand-edited log gets here.
				await this.#failStep(run, record, record.error ?? `step ${record.name} was ${record.status} while the saga ran forward`);
				return false;
			}

			if (!(await this.#runStep(run, record))) {
				return false;
			}
		}

		return true;
	}

	async #runStep(run: Run, record: SagaStepRecord): Promise<boolean> {
		const step = stepOf(run, record);
		return this.#attempt(run, record, {
			phase: 'run',
			maxAttempts: 1 + (step.retries ?? 0),
			interrupted:
				record.status === 'running'
					? {attempts: record.attempts, error: `interrupted: the coordinator running attempt ${record.attempts} stopped before the step finished`, noRetries: 'the step has no retries left, so it is not run again'}
					: undefined,
			started: 'stepRunning',
			attemptFailed: 'stepAttemptFailed',
			finished: 'done',
			async work(context) {
				const value = await step.run(context, run.input);
				return {detailsJson: toJson(value, `The result of step ${record.name} of saga ${run.definition.name}`)};
			},
			fail: async error => this.#failStep(run, record, error),
		});
	}

	/** The step failed for good: it and the saga's turn to compensating are logged together. */
	async #failStep(run: Run, record: SagaStepRecord, error: string): Promise<void> {
		const events = await this.#transaction(async query => {
			const failed = await this.#stepTransition(query, 'stepFailed', run, record.index, {error}, false);
			const compensating = await this.#sagaTransition(query, 'sagaCompensating', run.sagaId, {error, failedStep: record.index}, false);
			return [failed.event, compensating];
		});
		events.forEach(event => this.#emit(event));
		record.status = 'failed';
	}

	/** Undoes the done steps in reverse order; the saga ends `compensated`, or `failed` at the first compensation that fails for good. */
	async #compensate(run: Run): Promise<void> {
		const toUndo = run.steps.filter(step => step.status === 'done' || step.status === 'compensating' || step.status === 'compensation_failed').reverse();
		for (const record of toUndo) {
			if (!(await this.#compensateStep(run, record))) {
				return;
			}
		}

		await this.#sagaTransition(this.#query, 'sagaCompensated', run.sagaId);
	}

	async #compensateStep(run: Run, record: SagaStepRecord): Promise<boolean> {
		const step = stepOf(run, record);
		if (!step.compensate) {
			await this.#stepTransition(this.#query, 'stepCompensated', run, record.index, {detailsJson: '{"compensation":"none"}'});
			return true;
		}

		const compensate = step.compensate;
		return this.#attempt(run, record, {
			phase: 'compensate',
			maxAttempts: 1 + run.definition.compensationRetries,
			interrupted:
				record.status === 'compensating'
					? {attempts: record.compensationAttempts, error: `interrupted: the coordinator running compensation attempt ${record.compensationAttempts} stopped before it finished`, noRetries: 'no retries left'}
					: undefined,
			started: 'stepCompensating',
			attemptFailed: 'stepCompensationAttemptFailed',
			finished: 'compensated',
			async work(context) {
				await compensate(context, run.input, record.result);
				return {};
			},
			fail: async error => this.#failCompensation(run, record, error),
		});
	}

	/**
	 * One phase of a step (running it or compensating it) with its retry budget: an attempt
	 * interrupted by a crash counts; each attempt's database work commits with its "finished"
	 * log entry; a failed commit whose answer got lost is recognised from the log; after the
	 * last attempt `fail` logs the step failed for good. False when it did.
	 */
	async #attempt(run: Run, record: SagaStepRecord, phase: StepPhase): Promise<boolean> {
		if (phase.interrupted) {
			if (phase.interrupted.attempts >= phase.maxAttempts) {
				await phase.fail(`${phase.interrupted.error} (${phase.interrupted.noRetries})`);
				return false;
			}

			await this.#stepTransition(this.#query, phase.attemptFailed, run, record.index, {error: phase.interrupted.error});
		}

		for (;;) {
			const started = await this.#stepTransition(this.#query, phase.started, run, record.index);
			const attempt = started.event.attempt ?? 1;
			const transaction = this.#transactionFor(run, record);
			try {
				const details = await phase.work(this.#context(run, record, phase.phase, attempt, transaction));
				const finished = phase.finished === 'done' ? 'stepDone' : 'stepCompensated';
				const logged = await transaction.commit(async query => this.#stepTransition(query, finished, run, record.index, details, false));
				this.#emit(logged.event);
				record.status = phase.finished;
				if (phase.finished === 'done') {
					record.result = logged.result;
				}

				return true;
			} catch (error) {
				await transaction.rollback();
				if (isLeaseLost(error)) {
					throw error;
				}

				// The commit may have reached the server and only its answer got lost.
				const current = await this.#log.readStep(this.#query, run.sagaId, record.index);
				if (current?.status === phase.finished) {
					record.status = phase.finished;
					if (phase.finished === 'done') {
						record.result = current.result;
					}

					return true;
				}

				if (attempt < phase.maxAttempts) {
					await this.#stepTransition(this.#query, phase.attemptFailed, run, record.index, {error: messageOf(error)});
					await this.#backoff(attempt);
					continue;
				}

				await phase.fail(messageOf(error));
				return false;
			}
		}
	}

	async #failCompensation(run: Run, record: SagaStepRecord, error: string): Promise<void> {
		const events = await this.#transaction(async query => {
			const failed = await this.#stepTransition(query, 'stepCompensationFailed', run, record.index, {error}, false);
			const sagaFailed = await this.#sagaTransition(query, 'sagaFailed', run.sagaId, {error: `compensation of step ${record.name} failed: ${error}`}, false);
			return [failed.event, sagaFailed];
		});
		events.forEach(event => this.#emit(event));
		record.status = 'compensation_failed';
	}

	async #outcome(sagaId: string): Promise<SagaOutcome> {
		const history = await this.#history(sagaId);
		if (!history) {
			throw new BugError(`Saga ${sagaId} disappeared while this coordinator was driving it.`);
		}

		const {saga, steps} = history;
		if (saga.status === 'running' || saga.status === 'compensating') {
			throw new BugError(`Saga ${sagaId} is still ${saga.status} after the coordinator finished driving it.`);
		}

		const failed = saga.failedStep === undefined ? undefined : steps[saga.failedStep];
		const compensationFailed = steps.find(step => step.status === 'compensation_failed');
		return {
			sagaId,
			name: saga.name,
			status: saga.status,
			results: steps.map(step => step.result ?? undefined),
			failedStep: failed ? {index: failed.index, name: failed.name, error: saga.error ?? failed.error ?? 'failed'} : undefined,
			compensationFailure: compensationFailed
				? {index: compensationFailed.index, name: compensationFailed.name, error: compensationFailed.compensationError ?? 'failed'}
				: undefined,
		};
	}

	/** Logs a step transition; `E_SAGA_LEASE_LOST` when the saga is no longer this coordinator's. Emits unless inside a transaction (the caller emits after commit). */
	async #stepTransition(
		query: SagaQuery,
		transition: StepTransition,
		run: Run,
		index: number,
		options: {error?: string; detailsJson?: string} = {},
		emit = true,
	) {
		const logged = await this.#log.step(query, transition, run.sagaId, index, options);
		if (!logged) {
			throw this.#leaseLost(run.sagaId);
		}

		if (emit) {
			this.#emit(logged.event);
		}

		return logged;
	}

	async #sagaTransition(
		query: SagaQuery,
		transition: SagaTransition,
		sagaId: string,
		options: {error?: string; failedStep?: number} = {},
		emit = true,
	): Promise<SagaEvent> {
		const event = await this.#log.saga(query, transition, sagaId, options);
		if (!event) {
			throw this.#leaseLost(sagaId);
		}

		if (emit) {
			this.#emit(event);
		}

		return event;
	}

	#transactionFor(run: Run, record: SagaStepRecord): StepTransaction {
		return new StepTransaction(this.#pools, {sagaId: run.sagaId, sagaName: run.definition.name, stepIndex: record.index});
	}

	#context(run: Run, record: SagaStepRecord, phase: 'run' | 'compensate', attempt: number, transaction: StepTransaction): SagaStepContext {
		return {
			sagaId: run.sagaId,
			sagaName: run.definition.name,
			stepIndex: record.index,
			stepName: record.name,
			phase,
			idempotencyKey: stepIdempotencyKey(run.sagaId, record.index, record.name, phase),
			attempt,
			owner: this.owner,
			db: {
				query: async <T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: readonly unknown[]) => transaction.query<T>(text, values),
			},
			once: async <T>(key: string, work: () => Promise<T>) => transaction.once(key, work),
		};
	}

	async #transaction<T>(work: (query: SagaQuery) => Promise<T>): Promise<T> {
		return this.#pools.withClient('primary', async client => {
			await client.query('BEGIN');
			try {
				const result = await work(async (text, values) => client.query(text, values as unknown[]));
				await client.query('COMMIT');
				return result;
			} catch (error) {
				await client.query('ROLLBACK').catch(() => {});
				throw error;
			}
		});
	}

	async #backoff(attempt: number): Promise<void> {
		const ms = Math.min(this.#retryDelayMs * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
		await new Promise(resolve => setTimeout(resolve, ms));
	}

	#startHeartbeat(): void {
		if (this.#heartbeat) {
			return;
		}

		this.#heartbeat = setInterval(() => void this.#beat(), Math.max(10, Math.floor(this.leaseMs / 3)));
		// Sagas in flight keep the process alive through their own awaits, not through this timer.
		this.#heartbeat.unref();
	}

	async #beat(): Promise<void> {
		if (this.#beating || this.#active.size === 0) {
			return;
		}

		this.#beating = true;
		try {
			await this.#log.heartbeat(this.#query, [...this.#active]);
		} catch {
			// The next beat tries again, and every transition renews the lease as well; a coordinator
			// cut off for longer than its lease loses its sagas, and its writes are refused then.
		} finally {
			this.#beating = false;
		}
	}

	#emit(event: SagaEvent): void {
		try {
			this.#onEvent?.(event);
		} catch {
			// A listener's bug must not stop a saga half-way.
		}
	}

	async #track<T>(work: () => Promise<T>): Promise<T> {
		const promise = work();
		this.#inFlight.add(promise);
		try {
			return await promise;
		} finally {
			this.#inFlight.delete(promise);
		}
	}

	#assertOpen(method: string): void {
		if (this.#closed) {
			throw new BugError(`SagaCoordinator.${method}() was called after close().`);
		}
	}

	#leaseLost(sagaId: string): ActionableError {
		return new ActionableError(
			'E_SAGA_LEASE_LOST',
			`Coordinator ${this.owner} no longer owns saga ${sagaId}: its lease expired and another coordinator took the saga over (or it already ended). This coordinator stopped driving it; the step work it had not committed was rolled back.`,
			{
				nextStep: 'Nothing to undo: the new owner finishes the saga (see history()). If this recurs, raise leaseMs above the longest pause this process can have.',
				details: {sagaId, owner: this.owner},
			},
		);
	}
}

function stepOf(run: Run, record: SagaStepRecord) {
	const step = run.definition.steps[record.index];
	if (!step) {
		throw new BugError(`Saga ${run.sagaId} has no step ${record.index} in its definition.`);
	}

	return step;
}

/** A saga resumed by code whose steps differ from the ones it was started with cannot be driven safely. */
function checkSameSteps(run: Run, name: string): void {
	const logged = run.steps.map(step => step.name);
	const defined = run.definition.steps.map(step => step.name);
	if (logged.length !== defined.length || logged.some((stepName, index) => stepName !== defined[index])) {
		throw new ActionableError(
			'E_BAD_ARGUMENT',
			`Saga ${run.sagaId} (${name}) was started with steps [${logged.join(', ')}], but the registered definition has [${defined.join(', ')}].`,
			{
				nextStep: 'Resume it with a coordinator that runs the code it was started with, or finish it by hand (see history()).',
				details: {sagaId: run.sagaId, logged, defined},
			},
		);
	}
}

function isLeaseLost(error: unknown): boolean {
	return error instanceof MsdbError && error.code === 'E_SAGA_LEASE_LOST';
}

function messageOf(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}
