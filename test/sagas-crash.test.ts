/**
 * Sagas survive their coordinator (issue acceptance): a coordinator process killed with SIGKILL
 * mid-saga, and a new coordinator's resume() — once the dead one's lease expired — finishing the
 * job; two resumers at once never both take the saga; the log shows every step and who did what.
 *
 * The killed coordinator is a real process (test/fixtures/saga-crash-child.mjs) running the core
 * and the saga definitions (test/fixtures/transfer-saga.ts) compiled for it into
 * node_modules/.cache (a quick emit without type-checking, as test/fleet-heartbeats.test.ts
 * does). The test stops it inside a step by holding the advisory lock the step waits for.
 */
import {spawn, type ChildProcessWithoutNullStreams} from 'node:child_process';
import {EventEmitter, once} from 'node:events';
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {createInterface} from 'node:readline';
import {fileURLToPath} from 'node:url';
import {execa} from 'execa';
import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {DatabasePools, resolvePoolsConfig} from '../source/core/pools/index.js';
import {SagaCoordinator, type SagaEvent} from '../source/core/sagas/index.js';
import {CHARGE_LOCK, transferSagas, UNDO_CHARGE_LOCK} from './fixtures/transfer-saga.js';
import {applyAgentSchema} from './support/postgres-fixtures.js';
import {query} from './support/sql.js';
import {useTestDatabase, type TestDatabase} from './support/test-database.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = path.join(REPO, 'test', 'fixtures', 'saga-crash-child.mjs');
// Short, so the test waits about a second for the dead coordinator's lease to expire.
const LEASE_MS = 1000;

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await check())) {
		if (Date.now() > deadline) {
			throw new Error(`timed out waiting for ${what}`);
		}

		await new Promise(resolve => setTimeout(resolve, 25));
	}
}

/** Emits what the child needs, quickly (no type-check), into a fresh directory inside the repository (so `pg` resolves). */
async function compileForChildren(): Promise<string> {
	const cache = path.join(REPO, 'node_modules', '.cache');
	await mkdir(cache, {recursive: true});
	const outDir = await mkdtemp(path.join(cache, 'msdb-saga-test-'));
	const tsconfig = path.join(outDir, 'tsconfig.json');
	const entries = ['source/core/sagas/saga-coordinator.ts', 'source/core/config/database-config.ts', 'test/fixtures/transfer-saga.ts'];
	await writeFile(
		tsconfig,
		JSON.stringify({
			extends: path.join(REPO, 'tsconfig.build.json'),
			compilerOptions: {outDir, rootDir: REPO, noCheck: true, sourceMap: false, declaration: false},
			files: entries.map(entry => path.join(REPO, entry)),
			include: [],
		}),
	);
	await execa(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsconfig]);
	return outDir;
}

type ChildLine = {event: string; sagaId?: string; name?: string};

/** A coordinator process started from the fixture. */
class ChildCoordinator {
	readonly child: ChildProcessWithoutNullStreams;
	readonly exited: Promise<unknown>;
	readonly lines: ChildLine[] = [];
	#emitter = new EventEmitter();
	#stderr = '';

	constructor(modules: string, databaseUrl: string, readonly owner: string, runs: Array<{saga: string; input: unknown}>) {
		this.child = spawn(process.execPath, [FIXTURE], {
			env: {...process.env, MSDB_SAGA_TEST_MODULES: modules, DATABASE_URL: databaseUrl, OWNER: owner, LEASE_MS: String(LEASE_MS), RUNS: JSON.stringify(runs)},
		});
		this.exited = once(this.child, 'exit');
		this.child.stderr.on('data', (chunk: Buffer) => {
			this.#stderr += chunk.toString();
		});
		createInterface({input: this.child.stdout}).on('line', line => {
			this.lines.push(JSON.parse(line) as ChildLine);
			this.#emitter.emit('line');
		});
		this.child.on('exit', () => this.#emitter.emit('line'));
	}

	/** The ids of the sagas it started, once it has logged `count` of them. */
	async started(count: number): Promise<Map<string, string>> {
		for (;;) {
			const started = this.lines.filter(line => line.event === 'started');
			if (started.length >= count) {
				return new Map(started.map(line => [line.name!, line.sagaId!]));
			}

			if (this.child.exitCode !== null || this.child.signalCode !== null) {
				throw new Error(`the coordinator process exited (${this.child.exitCode ?? this.child.signalCode}) early; stderr: ${this.#stderr}`);
			}

			await once(this.#emitter, 'line');
		}
	}

	async kill(): Promise<void> {
		this.child.kill('SIGKILL');
		await this.exited;
	}
}

describe('a saga whose coordinator is killed', () => {
	const database = useTestDatabase('sagas_crash');
	let modules: string | undefined;
	let locks: pg.Client;
	const children: ChildCoordinator[] = [];
	const pools: DatabasePools[] = [];

	const newPools = () => {
		const created = new DatabasePools(resolvePoolsConfig({databaseUrl: database.url}, {}));
		pools.push(created);
		return created;
	};

	const resumer = (owner: string) => new SagaCoordinator({pools: newPools(), owner, leaseMs: LEASE_MS, retryDelayMs: 10, sagas: transferSagas});

	const effects = async (sagaId: string) =>
		(await query<{what: string; owner: string}>(database.url, 'SELECT what, owner FROM saga_effects WHERE saga_id = $1 ORDER BY id', [sagaId])).map(
			row => `${row.what} by ${row.owner}`,
		);

	/** Backends waiting for the advisory lock (the blocked step's transaction). */
	const waitersOn = async (lock: number) =>
		(
			await query<{pid: number}>(
				database.url,
				`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1
				 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
				[lock],
			)
		).map(row => row.pid);

	/**
	 * PostgreSQL notices a dead client only when it next talks to it, so the killed process's
	 * backend still waits in the lock queue; ending it stands for the server noticing. Its
	 * uncommitted step work rolls back with it.
	 */
	const endBackends = async (pids: number[]) => {
		await query(database.url, 'SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
		await waitUntil('the dead coordinator’s backends to end', async () => (await query(database.url, 'SELECT 1 FROM pg_stat_activity WHERE pid = ANY ($1::int[])', [pids])).length === 0);
	};

	const leaseExpired = async (sagaId: string) =>
		(await query<{expired: boolean}>(database.url, 'SELECT lease_expires_at < now() AS expired FROM coordination.sagas WHERE id = $1', [sagaId]))[0]?.expired === true;

	/** `<event> <step> by <who>`: the log with owners named by role. */
	const logOf = (events: SagaEvent[], names: Record<string, string>) =>
		events.map(event => `${event.type}${event.stepName === undefined ? '' : ` ${event.stepName}`} by ${names[event.owner] ?? event.owner}`);

	beforeAll(async () => {
		[modules] = await Promise.all([
			compileForChildren(),
			(async () => {
				await applyAgentSchema(database as TestDatabase);
				await query(database.url, 'CREATE TABLE saga_effects (id bigserial PRIMARY KEY, saga_id uuid NOT NULL, what text NOT NULL, owner text NOT NULL)');
			})(),
		]);
		locks = new pg.Client({connectionString: database.url});
		await locks.connect();
	});

	afterAll(async () => {
		for (const child of children) {
			child.child.kill('SIGKILL');
		}

		await locks?.end();
		await Promise.all(pools.map(async created => created.close()));
		if (modules) {
			await rm(modules, {recursive: true, force: true});
		}
	});

	it('mid-compensation: one of two concurrent resumers takes it over and finishes the compensation; the log shows every step', async () => {
		await locks.query('SELECT pg_advisory_lock($1)', [UNDO_CHARGE_LOCK]);
		const child = new ChildCoordinator(modules!, database.url, 'killed-coordinator', [{saga: 'transfer', input: {failAt: 'ship'}}]);
		children.push(child);
		const sagaId = (await child.started(1)).get('transfer')!;
		// ship failed; compensating charge now waits for the lock the test holds.
		await waitUntil('the compensation of charge to wait for its lock', async () => (await waitersOn(UNDO_CHARGE_LOCK)).length === 1);
		await child.kill();
		await endBackends(await waitersOn(UNDO_CHARGE_LOCK));

		const a = resumer('resumer-a');
		const b = resumer('resumer-b');
		const before = (await a.history(sagaId))!;
		expect(before.saga).toMatchObject({status: 'compensating', owner: 'killed-coordinator'});
		expect(before.steps.map(step => step.status)).toEqual(['done', 'compensating', 'failed']);

		await waitUntil('the killed coordinator’s lease to expire', async () => leaseExpired(sagaId));
		const reports = Promise.all([a.resume(), b.resume()]);
		// The test still holds the lock: the resumer that claimed the saga waits in charge's compensation.
		await waitUntil('a resumer to claim the saga and compensate charge', async () => (await waitersOn(UNDO_CHARGE_LOCK)).length === 1);
		await locks.query('SELECT pg_advisory_unlock($1)', [UNDO_CHARGE_LOCK]);
		const [reportA, reportB] = await reports;

		expect([reportA.resumed.length, reportB.resumed.length].sort()).toEqual([0, 1]);
		expect([...reportA.skipped, ...reportB.skipped]).toEqual([]);
		const winner = reportA.resumed.length === 1 ? a : b;
		const outcome = [...reportA.resumed, ...reportB.resumed][0]!;
		expect(outcome).toMatchObject({sagaId, status: 'compensated', failedStep: {index: 2, name: 'ship', error: 'out of stock'}});

		// Everything applied once: the killed coordinator's undo of charge never committed.
		expect(await effects(sagaId)).toEqual([
			'reserve by killed-coordinator',
			'charge by killed-coordinator',
			`undo charge by ${winner.owner}`,
			`undo reserve by ${winner.owner}`,
		]);
		const history = (await a.history(sagaId))!;
		expect(history.saga).toMatchObject({status: 'compensated', owner: winner.owner});
		expect(history.steps.map(step => [step.name, step.status, step.attempts, step.compensationAttempts])).toEqual([
			['reserve', 'compensated', 1, 1],
			['charge', 'compensated', 1, 2],
			['ship', 'failed', 1, 0],
		]);
		expect(logOf(history.events, {'killed-coordinator': 'killed', [winner.owner]: 'resumer'})).toEqual([
			'saga:started by killed',
			'step:running reserve by killed',
			'step:done reserve by killed',
			'step:running charge by killed',
			'step:done charge by killed',
			'step:running ship by killed',
			'step:failed ship by killed',
			'saga:compensating by killed',
			'step:compensating charge by killed',
			'saga:claimed by resumer',
			'step:compensation-attempt-failed charge by resumer',
			'step:compensating charge by resumer',
			'step:compensated charge by resumer',
			'step:compensating reserve by resumer',
			'step:compensated reserve by resumer',
			'saga:compensated by resumer',
		]);
		expect(history.events.find(event => event.type === 'saga:claimed')!.details).toMatchObject({previousOwner: 'killed-coordinator'});
		expect(history.events.find(event => event.type === 'step:compensation-attempt-failed')!.error).toMatch(/^interrupted/);
		await Promise.all([a.close(), b.close()]);
	});

	it('mid-step: a step without retries is failed and the saga compensated; a step with retries is run again and the saga completes', async () => {
		await locks.query('SELECT pg_advisory_lock($1)', [CHARGE_LOCK]);
		const child = new ChildCoordinator(modules!, database.url, 'killed-coordinator-2', [
			{saga: 'transfer', input: {}},
			{saga: 'transfer-retriable', input: {}},
		]);
		children.push(child);
		const ids = await child.started(2);
		await waitUntil('both charge steps to wait for their lock', async () => (await waitersOn(CHARGE_LOCK)).length === 2);
		await child.kill();
		await endBackends(await waitersOn(CHARGE_LOCK));
		await locks.query('SELECT pg_advisory_unlock($1)', [CHARGE_LOCK]);

		const plain = ids.get('transfer')!;
		const retriable = ids.get('transfer-retriable')!;
		await waitUntil('the killed coordinator’s leases to expire', async () => (await leaseExpired(plain)) && leaseExpired(retriable));
		const restarted = resumer('restarted-coordinator');
		const report = await restarted.resume();
		expect(report.skipped).toEqual([]);
		const outcomes = new Map(report.resumed.map(outcome => [outcome.sagaId, outcome]));
		expect(outcomes.size).toBe(2);

		expect(outcomes.get(plain)).toMatchObject({status: 'compensated', failedStep: {index: 1, name: 'charge', error: expect.stringMatching(/^interrupted/)}});
		expect(await effects(plain)).toEqual(['reserve by killed-coordinator-2', 'undo reserve by restarted-coordinator']);
		const names = {'killed-coordinator-2': 'killed', 'restarted-coordinator': 'restarted'};
		expect(logOf((await restarted.history(plain))!.events, names)).toEqual([
			'saga:started by killed',
			'step:running reserve by killed',
			'step:done reserve by killed',
			'step:running charge by killed',
			'saga:claimed by restarted',
			'step:failed charge by restarted',
			'saga:compensating by restarted',
			'step:compensating reserve by restarted',
			'step:compensated reserve by restarted',
			'saga:compensated by restarted',
		]);

		expect(outcomes.get(retriable)).toMatchObject({status: 'completed', results: [undefined, {charged: 100}, undefined]});
		expect(await effects(retriable)).toEqual(['reserve by killed-coordinator-2', 'charge by restarted-coordinator', 'ship by restarted-coordinator']);
		const history = (await restarted.history(retriable))!;
		expect(history.steps.map(step => [step.name, step.status, step.attempts])).toEqual([
			['reserve', 'done', 1],
			['charge', 'done', 2],
			['ship', 'done', 1],
		]);
		expect(logOf(history.events, names)).toEqual([
			'saga:started by killed',
			'step:running reserve by killed',
			'step:done reserve by killed',
			'step:running charge by killed',
			'saga:claimed by restarted',
			'step:attempt-failed charge by restarted',
			'step:running charge by restarted',
			'step:done charge by restarted',
			'step:running ship by restarted',
			'step:done ship by restarted',
			'saga:completed by restarted',
		]);
		const keys = await query(database.url, 'SELECT key FROM coordination.idempotency_keys WHERE saga_id = $1', [retriable]);
		expect(keys).toEqual([{key: `${retriable}:1:charge`}]);
		await restarted.close();
	});
});
