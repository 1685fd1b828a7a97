/**
 * Sagas in one process, on real PostgreSQL with the repository's migrations (0013: the
 * `coordination` schema): compensation in reverse order, the log of every transition, idempotency
 * keys, compensation failures, fencing by lease, and resume() of sagas whose owner is gone — the
 * dead owner's log entries written with the same SagaLog a coordinator uses. Real processes
 * killed mid-saga: test/sagas-crash.test.ts.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {ActionableError} from '../source/core/errors.js';
import {DatabasePools, resolvePoolsConfig} from '../source/core/pools/index.js';
import {defineSaga, SagaCoordinator, sagaStep, type SagaEvent, type SagaStepContext} from '../source/core/sagas/index.js';
import {SagaLog, type SagaQuery} from '../source/core/sagas/saga-log.js';
import {applyAgentSchema} from './support/postgres-fixtures.js';
import {query} from './support/sql.js';
import {useTestDatabase, type TestDatabase} from './support/test-database.js';

type OrderInput = {order: string; failAt?: string};

/** Records what a step did (or undid) in the step's own transaction. */
async function effect(ctx: SagaStepContext, what: string): Promise<void> {
	await ctx.db.query('INSERT INTO saga_effects (saga_id, what) VALUES ($1, $2)', [ctx.sagaId, what]);
}

/** reserve → charge → ship; ship fails when the input says so. */
const order = defineSaga<OrderInput>({
	name: 'order',
	steps: [
		sagaStep({
			name: 'reserve',
			run: async (ctx, input: OrderInput) => {
				await effect(ctx, 'reserve');
				return {reservation: `r-${input.order}`};
			},
			compensate: async (ctx, _input, result) => effect(ctx, `undo reserve ${result.reservation}`),
		}),
		{
			name: 'charge',
			run: async ctx => {
				await effect(ctx, 'charge');
				return {charge: 42};
			},
			compensate: async ctx => effect(ctx, 'undo charge'),
		},
		{
			name: 'ship',
			run: async (ctx, input) => {
				await effect(ctx, 'ship');
				if (input.failAt === 'ship') {
					throw new Error('out of stock');
				}

				return {parcel: 'p-1'};
			},
			compensate: async ctx => effect(ctx, 'undo ship'),
		},
	],
});

function gate(): {opened: Promise<void>; open: () => void} {
	let open = () => {};
	const opened = new Promise<void>(resolve => {
		open = resolve;
	});
	return {opened, open};
}

async function expectRejection(promise: Promise<unknown>): Promise<ActionableError> {
	try {
		await promise;
	} catch (error) {
		expect(error).toBeInstanceOf(ActionableError);
		return error as ActionableError;
	}

	throw new Error('expected a rejection');
}

/** [type, step name] of each event: the shape of a saga's log. */
const shape = (events: SagaEvent[]) => events.map(event => (event.stepName === undefined ? event.type : `${event.type} ${event.stepName}`));

describe('SagaCoordinator', () => {
	const database = useTestDatabase('sagas');
	let pools: DatabasePools;
	let sql: SagaQuery;
	const effects = async (sagaId: string) =>
		(await query<{what: string}>(database.url, 'SELECT what FROM saga_effects WHERE saga_id = $1 ORDER BY id', [sagaId])).map(row => row.what);
	const coordinator = (options: Partial<ConstructorParameters<typeof SagaCoordinator>[0]> = {}) =>
		new SagaCoordinator({pools, retryDelayMs: 1, leaseMs: 60_000, ...options});

	beforeAll(async () => {
		await applyAgentSchema(database as TestDatabase);
		await query(database.url, 'CREATE TABLE saga_effects (id bigserial PRIMARY KEY, saga_id uuid NOT NULL, what text NOT NULL)');
		pools = new DatabasePools(resolvePoolsConfig({databaseUrl: database.url}, {}));
		sql = async (text, values) => pools.query('primary', text, values);
	});

	afterAll(async () => {
		await pools?.close();
	});

	it('compensates steps 2 then 1 when step 3 fails, and logs every step and transition', async () => {
		const seen: SagaEvent[] = [];
		const sagas = coordinator({onEvent: event => seen.push(event)});
		const outcome = await sagas.start(order, {order: 'o-1', failAt: 'ship'});

		expect(outcome).toMatchObject({
			name: 'order',
			status: 'compensated',
			failedStep: {index: 2, name: 'ship', error: 'out of stock'},
			compensationFailure: undefined,
		});
		// ship's own insert rolled back with its failed attempt; the undos ran in reverse order.
		expect(await effects(outcome.sagaId)).toEqual(['reserve', 'charge', 'undo charge', 'undo reserve r-o-1']);

		const history = (await sagas.history(outcome.sagaId))!;
		expect(history.saga).toMatchObject({status: 'compensated', failedStep: 2, error: 'out of stock', input: {order: 'o-1', failAt: 'ship'}, owner: sagas.owner});
		expect(history.steps.map(step => [step.index, step.name, step.status, step.attempts, step.compensationAttempts])).toEqual([
			[0, 'reserve', 'compensated', 1, 1],
			[1, 'charge', 'compensated', 1, 1],
			[2, 'ship', 'failed', 1, 0],
		]);
		expect(history.steps.map(step => step.idempotencyKey)).toEqual([0, 1, 2].map(index => `${outcome.sagaId}:${index}:${order.steps[index]!.name}`));
		expect(history.steps[2]!.error).toBe('out of stock');
		expect(shape(history.events)).toEqual([
			'saga:started',
			'step:running reserve',
			'step:done reserve',
			'step:running charge',
			'step:done charge',
			'step:running ship',
			'step:failed ship',
			'saga:compensating',
			'step:compensating charge',
			'step:compensated charge',
			'step:compensating reserve',
			'step:compensated reserve',
			'saga:compensated',
		]);
		expect(history.events[0]!.details).toEqual({steps: ['reserve', 'charge', 'ship']});
		expect(history.events.find(event => event.type === 'step:done')!.details).toEqual({reservation: 'r-o-1'});
		expect(history.events.find(event => event.type === 'step:failed')!.error).toBe('out of stock');
		expect(new Set(history.events.map(event => event.owner))).toEqual(new Set([sagas.owner]));
		// The listener heard exactly what was logged, in order.
		expect(seen.map(event => event.id)).toEqual(history.events.map(event => event.id));
		await sagas.close();
	});

	it('completes when every step succeeds, with each result in the log and the outcome', async () => {
		const sagas = coordinator();
		const outcome = await sagas.start(order, {order: 'o-2'});
		expect(outcome).toMatchObject({status: 'completed', results: [{reservation: 'r-o-2'}, {charge: 42}, {parcel: 'p-1'}], failedStep: undefined});
		expect(await effects(outcome.sagaId)).toEqual(['reserve', 'charge', 'ship']);
		const history = (await sagas.history(outcome.sagaId))!;
		expect(history.saga.finishedAt).toBeInstanceOf(Date);
		expect(history.steps.map(step => step.status)).toEqual(['done', 'done', 'done']);
		expect(shape(history.events).at(-1)).toBe('saga:completed');
		expect(await sagas.history('00000000-0000-0000-0000-000000000000')).toBeUndefined();
		await sagas.close();
	});

	describe('idempotency keys', () => {
		it('a retried step applies once: the failed attempt rolls back its work and its key, the retry applies it', async () => {
			let attempts = 0;
			const flaky = defineSaga({
				name: 'flaky-charge',
				steps: [
					{
						name: 'charge',
						retries: 2,
						run: async ctx => {
							attempts++;
							const receipt = await ctx.once(ctx.idempotencyKey, async () => {
								await effect(ctx, `charge (attempt ${ctx.attempt})`);
								return {receipt: ctx.attempt};
							});
							if (ctx.attempt === 1) {
								throw new Error('gateway timeout');
							}

							return receipt;
						},
					},
				],
			});
			const sagas = coordinator();
			const outcome = await sagas.start(flaky, {});
			expect(outcome).toMatchObject({status: 'completed', results: [{receipt: 2}]});
			expect(attempts).toBe(2);
			expect(await effects(outcome.sagaId)).toEqual(['charge (attempt 2)']);
			const keys = await query(database.url, 'SELECT key, step_index, result FROM coordination.idempotency_keys WHERE saga_id = $1', [outcome.sagaId]);
			expect(keys).toEqual([{key: `${outcome.sagaId}:0:charge`, step_index: 0, result: {receipt: 2}}]);
			const history = (await sagas.history(outcome.sagaId))!;
			expect(shape(history.events)).toEqual(['saga:started', 'step:running charge', 'step:attempt-failed charge', 'step:running charge', 'step:done charge', 'saga:completed']);
			expect(history.events.filter(event => event.type === 'step:running').map(event => event.attempt)).toEqual([1, 2]);
			expect(history.events[2]!.error).toBe('gateway timeout');
			await sagas.close();
		});

		it('a key already recorded is not applied again, also by another saga and by a concurrent one', async () => {
			const inWork = gate();
			const release = gate();
			let applied = 0;
			const payment = defineSaga<{request: string; hold?: boolean}>({
				name: 'payment',
				steps: [
					{
						name: 'pay',
						run: async (ctx, input) =>
							ctx.once(`payment:${input.request}`, async () => {
								applied++;
								await effect(ctx, `pay ${input.request}`);
								if (input.hold) {
									inWork.open();
									await release.opened;
								}

								return {payment: `pay-${ctx.sagaId}`};
							}),
					},
				],
			});
			const sagas = coordinator();
			// A caller retried: the second saga finds the key and gets the first payment back.
			const first = await sagas.start(payment, {request: 'req-1'});
			const again = await sagas.start(payment, {request: 'req-1'});
			expect(again.results).toEqual(first.results);
			expect(first.results).toEqual([{payment: `pay-${first.sagaId}`}]);

			// Concurrent: the second waits on the first's uncommitted key, then finds it recorded.
			const holding = sagas.start(payment, {request: 'req-2', hold: true});
			await inWork.opened;
			const concurrent = sagas.start(payment, {request: 'req-2'});
			release.open();
			const [held, waited] = await Promise.all([holding, concurrent]);
			expect(waited.results).toEqual(held.results);

			expect(applied).toBe(2);
			const rows = await query(database.url, "SELECT what FROM saga_effects WHERE what LIKE 'pay %' ORDER BY id");
			expect(rows.map(row => row.what)).toEqual(['pay req-1', 'pay req-2']);
			await sagas.close();
		});
	});

	describe('compensation failures', () => {
		it('retries a failing compensation, then the saga ends compensated', async () => {
			let failures = 2;
			const stubborn = defineSaga<OrderInput>({
				name: 'stubborn-undo',
				compensationRetries: 3,
				steps: [
					{
						name: 'reserve',
						run: async ctx => effect(ctx, 'reserve'),
						compensate: async ctx => {
							await effect(ctx, 'undo reserve');
							if (failures-- > 0) {
								throw new Error('inventory service unavailable');
							}
						},
					},
					{name: 'charge', run: async () => Promise.reject(new Error('card declined'))},
				],
			});
			const sagas = coordinator();
			const outcome = await sagas.start(stubborn, {order: 'o-3'});
			expect(outcome).toMatchObject({status: 'compensated', failedStep: {index: 1, name: 'charge', error: 'card declined'}});
			// The failed attempts' writes rolled back with them.
			expect(await effects(outcome.sagaId)).toEqual(['reserve', 'undo reserve']);
			const history = (await sagas.history(outcome.sagaId))!;
			expect(history.steps[0]).toMatchObject({status: 'compensated', compensationAttempts: 3, compensationError: undefined});
			expect(shape(history.events).slice(-7)).toEqual([
				'step:compensating reserve',
				'step:compensation-attempt-failed reserve',
				'step:compensating reserve',
				'step:compensation-attempt-failed reserve',
				'step:compensating reserve',
				'step:compensated reserve',
				'saga:compensated',
			]);
			expect(history.events.filter(event => event.type === 'step:compensation-attempt-failed').map(event => [event.attempt, event.error])).toEqual([
				[1, 'inventory service unavailable'],
				[2, 'inventory service unavailable'],
			]);
			await sagas.close();
		});

		it('a compensation failing for good fails the saga there, with its error; retryCompensation() finishes after the fix', async () => {
			let broken = true;
			const fragile = defineSaga<OrderInput>({
				name: 'fragile-undo',
				compensationRetries: 1,
				steps: [
					{name: 'reserve', run: async ctx => effect(ctx, 'reserve'), compensate: async ctx => effect(ctx, 'undo reserve')},
					{
						name: 'charge',
						run: async ctx => effect(ctx, 'charge'),
						compensate: async ctx => {
							if (broken) {
								throw new Error('refund API down');
							}

							await effect(ctx, 'undo charge');
						},
					},
					{name: 'ship', run: async () => Promise.reject(new Error('out of stock'))},
				],
			});
			const sagas = coordinator();
			const outcome = await sagas.start(fragile, {order: 'o-4'});
			expect(outcome).toMatchObject({
				status: 'failed',
				failedStep: {index: 2, name: 'ship', error: 'out of stock'},
				compensationFailure: {index: 1, name: 'charge', error: 'refund API down'},
			});
			// Stopped at the failing undo: reserve stays done, not undone before charge is.
			expect(await effects(outcome.sagaId)).toEqual(['reserve', 'charge']);
			let history = (await sagas.history(outcome.sagaId))!;
			expect(history.saga).toMatchObject({status: 'failed', error: 'out of stock'});
			expect(history.steps.map(step => step.status)).toEqual(['done', 'compensation_failed', 'failed']);
			expect(history.steps[1]).toMatchObject({compensationAttempts: 2, compensationError: 'refund API down'});
			expect(shape(history.events).slice(-2)).toEqual(['step:compensation-failed charge', 'saga:failed']);
			expect(history.events.at(-1)!.error).toBe('compensation of step charge failed: refund API down');

			// resume() leaves failed sagas to people, even once the lease has long expired.
			await query(database.url, "UPDATE coordination.sagas SET lease_expires_at = now() - interval '1 hour' WHERE id = $1", [outcome.sagaId]);
			const resumer = coordinator({sagas: [fragile]});
			expect((await resumer.resume()).resumed.map(run => run.sagaId)).not.toContain(outcome.sagaId);
			await resumer.close();

			broken = false;
			const retried = await sagas.retryCompensation(outcome.sagaId);
			expect(retried).toMatchObject({status: 'compensated', compensationFailure: undefined});
			expect(await effects(outcome.sagaId)).toEqual(['reserve', 'charge', 'undo charge', 'undo reserve']);
			history = (await sagas.history(outcome.sagaId))!;
			expect(shape(history.events).slice(-6)).toEqual([
				'saga:compensation-retry',
				'step:compensating charge',
				'step:compensated charge',
				'step:compensating reserve',
				'step:compensated reserve',
				'saga:compensated',
			]);
			expect((await expectRejection(sagas.retryCompensation(outcome.sagaId))).code).toBe('E_BAD_ARGUMENT');
			await sagas.close();
		});
	});

	it('a coordinator that lost its saga changes nothing: its step work rolls back and it stops with E_SAGA_LEASE_LOST', async () => {
		const inStep = gate();
		const proceed = gate();
		const slow = defineSaga({
			name: 'slow',
			steps: [
				{
					name: 'write',
					run: async ctx => {
						await effect(ctx, 'write');
						inStep.open();
						await proceed.opened;
					},
				},
			],
		});
		let sagaId = '';
		const sagas = coordinator({
			onEvent: event => {
				sagaId = event.sagaId;
			},
		});
		const running = sagas.start(slow, {});
		await inStep.opened;
		// What a resumer does once the lease expired (a long GC pause here, say).
		await query(database.url, "UPDATE coordination.sagas SET owner = 'someone-else' WHERE id = $1", [sagaId]);
		proceed.open();
		const error = await expectRejection(running);
		expect(error.code).toBe('E_SAGA_LEASE_LOST');
		expect(await effects(sagaId)).toEqual([]);
		const history = (await sagas.history(sagaId))!;
		expect(history.steps[0]!.status).toBe('running');
		expect(shape(history.events)).toEqual(['saga:started', 'step:running write']);
		await sagas.close();
	});

	describe('resume() of sagas whose owner is gone', () => {
		/** Writes the log a dead coordinator would have left, its lease already expired. */
		async function deadOwnerSaga(name: string, input: unknown, steps: readonly string[], write: (log: SagaLog, sagaId: string) => Promise<void>) {
			const log = new SagaLog('dead-coordinator', 60_000);
			const started = await log.start(sql, name, JSON.stringify(input), steps);
			await write(log, started.sagaId);
			await query(database.url, "UPDATE coordination.sagas SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [started.sagaId]);
			return started.sagaId;
		}

		it('continues after a finished step, compensates an interrupted step without retries, re-runs one with retries, skips changed code', async () => {
			const retriable = defineSaga<OrderInput>({
				name: 'order-retriable',
				steps: order.steps.map(step => (step.name === 'charge' ? {...step, retries: 1} : step)),
			});
			// Between steps: reserve done, charge not started.
			const betweenSteps = await deadOwnerSaga('order', {order: 'o-5'}, ['reserve', 'charge', 'ship'], async (log, id) => {
				await log.step(sql, 'stepRunning', id, 0);
				await log.step(sql, 'stepDone', id, 0, {detailsJson: '{"reservation": "r-o-5"}'});
			});
			// In charge, which has no retries: it is failed, reserve compensated with its logged result.
			const inStep = await deadOwnerSaga('order', {order: 'o-6'}, ['reserve', 'charge', 'ship'], async (log, id) => {
				await log.step(sql, 'stepRunning', id, 0);
				await log.step(sql, 'stepDone', id, 0, {detailsJson: '{"reservation": "r-o-6"}'});
				await log.step(sql, 'stepRunning', id, 1);
			});
			// In charge, declared retriable: it is run again and the saga completes.
			const inRetriableStep = await deadOwnerSaga('order-retriable', {order: 'o-7'}, ['reserve', 'charge', 'ship'], async (log, id) => {
				await log.step(sql, 'stepRunning', id, 0);
				await log.step(sql, 'stepDone', id, 0, {detailsJson: '{"reservation": "r-o-7"}'});
				await log.step(sql, 'stepRunning', id, 1);
			});
			// Started by code with other steps: not driven by this code.
			const otherCode = await deadOwnerSaga('order', {order: 'o-8'}, ['reserve', 'pay'], async () => {});
			// A definition this coordinator does not know: not even claimed.
			const unknown = await deadOwnerSaga('refund', {}, ['refund'], async () => {});

			const resumer = coordinator({sagas: [order, retriable]});
			const report = await resumer.resume();
			const byId = new Map(report.resumed.map(outcome => [outcome.sagaId, outcome]));
			expect(byId.get(betweenSteps)).toMatchObject({status: 'completed', results: [{reservation: 'r-o-5'}, {charge: 42}, {parcel: 'p-1'}]});
			expect(await effects(betweenSteps)).toEqual(['charge', 'ship']);
			expect(byId.get(inStep)).toMatchObject({status: 'compensated', failedStep: {index: 1, name: 'charge', error: expect.stringMatching(/^interrupted/)}});
			expect(await effects(inStep)).toEqual(['undo reserve r-o-6']);
			expect(byId.get(inRetriableStep)).toMatchObject({status: 'completed'});
			expect(await effects(inRetriableStep)).toEqual(['charge', 'ship']);
			expect(report.resumed).toHaveLength(3);
			expect(report.skipped).toEqual([{sagaId: otherCode, name: 'order', reason: expect.stringContaining('was started with steps [reserve, pay]')}]);

			const retried = (await resumer.history(inRetriableStep))!;
			expect(retried.steps[1]).toMatchObject({status: 'done', attempts: 2});
			expect(shape(retried.events).slice(4, 8)).toEqual(['saga:claimed', 'step:attempt-failed charge', 'step:running charge', 'step:done charge']);
			expect(retried.events[4]!.details).toMatchObject({previousOwner: 'dead-coordinator'});
			expect(retried.events[6]).toMatchObject({owner: resumer.owner, attempt: 2});
			expect((await resumer.history(unknown))!.saga.owner).toBe('dead-coordinator');
			// Nothing left to claim.
			expect(await resumer.resume()).toEqual({resumed: [], skipped: []});
			await resumer.close();
		});
	});

	it('refuses definitions it cannot log unambiguously, and two definitions under one name', () => {
		const step = {name: 'a', run: async () => 1};
		expect(() => defineSaga({name: 'x', steps: []})).toThrow(/has no steps/);
		expect(() => defineSaga({name: 'x', steps: [step, step]})).toThrow(/two steps named a/);
		expect(() => defineSaga({name: 'x:y', steps: [step]})).toThrow(/not valid/);
		expect(() => defineSaga({name: 'x', steps: [{...step, retries: -1}]})).toThrow(/whole number/);
		const sagas = coordinator({sagas: [order]});
		expect(() => sagas.register(defineSaga({name: 'order', steps: [step]}))).toThrow(/already registered/);
		expect(() => coordinator({leaseMs: 0})).toThrow(/leaseMs/);
	});
});
