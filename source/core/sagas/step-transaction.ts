/**
 * A step attempt's own transaction: what `ctx.db` and `ctx.once()` run in. It begins on the
 * first statement (a step that never touches PostgreSQL holds no connection while it calls other
 * services) and ends with {@link StepTransaction.commit}, which writes the step's transition in
 * the saga log in it first, or {@link StepTransaction.rollback}.
 *
 * The connection comes from `DatabasePools.withClient`, held open across the step's awaits, so
 * checkout errors, broken connections and the pool's counters are handled the way they are for
 * any other caller.
 */
import type pg from 'pg';
import {ActionableError, BugError} from '../errors.js';
import type {DatabasePools} from '../pools/database-pools.js';
import type {SagaDatabase} from './saga-definition.js';
import {SAGA_SQL, type SagaQuery} from './saga-log.js';

/** Who the step is, for `msdb.actor` and the idempotency keys it records. */
export type StepTransactionScope = {
	sagaId: string;
	sagaName: string;
	stepIndex: number;
};

type Ending = {error: unknown};

export class StepTransaction implements SagaDatabase {
	#opening: Promise<pg.PoolClient> | undefined;
	#session: Promise<void> | undefined;
	#end: ((ending: Ending) => void) | undefined;
	#ended = false;

	constructor(
		private readonly pools: DatabasePools,
		private readonly scope: StepTransactionScope,
	) {}

	async query<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: readonly unknown[]): Promise<pg.QueryResult<T>> {
		const client = await this.#client();
		return client.query<T>(text, values as unknown[] | undefined);
	}

	/** See SagaStepContext.once. The savepoint undoes the key too when `work` throws and the step carries on. */
	async once<T>(key: string, work: () => Promise<T>): Promise<T> {
		if (typeof key !== 'string' || key.trim() === '') {
			throw new ActionableError('E_BAD_ARGUMENT', `ctx.once() needs a non-empty key; got ${JSON.stringify(key)}.`, {
				nextStep: 'Derive it from ctx.idempotencyKey (e.g. `${ctx.idempotencyKey}:charge`) or from the request the saga serves.',
			});
		}

		await this.query('SAVEPOINT msdb_once');
		try {
			const claimed = await this.query(SAGA_SQL.onceClaim, [key, this.scope.sagaId, this.scope.stepIndex]);
			let recorded: unknown;
			if (claimed.rowCount === 0) {
				recorded = (await this.query(SAGA_SQL.onceRecorded, [key])).rows[0]?.result;
			} else {
				const value = await work();
				recorded = (await this.query(SAGA_SQL.onceRecord, [key, toJson(value, `the result of ctx.once('${key}')`)])).rows[0]?.result;
			}

			await this.query('RELEASE SAVEPOINT msdb_once');
			return recorded as T;
		} catch (error) {
			// A broken connection fails this too; the step fails either way with the first error.
			await this.query('ROLLBACK TO SAVEPOINT msdb_once; RELEASE SAVEPOINT msdb_once').catch(() => {});
			throw error;
		}
	}

	/** Runs `finish` in the transaction (beginning it if the step did not) and commits; rolls back if `finish` throws. */
	async commit<T>(finish: (query: SagaQuery) => Promise<T>): Promise<T> {
		const client = await this.#client();
		let result: T;
		try {
			result = await finish(async (text, values) => client.query(text, values as unknown[]));
		} catch (error) {
			await this.rollback();
			throw error;
		}

		try {
			await client.query('COMMIT');
		} catch (error) {
			await this.#finish({error});
			throw error;
		}

		await this.#finish({error: undefined});
		return result;
	}

	/** Rolls back, if anything began. Never throws: a connection that broke has rolled back on its own. */
	async rollback(): Promise<void> {
		if (!this.#opening || this.#ended) {
			return;
		}

		let error: unknown;
		try {
			const client = await this.#opening;
			await client.query('ROLLBACK');
		} catch (caught) {
			error = caught;
		}

		await this.#finish({error});
	}

	async #client(): Promise<pg.PoolClient> {
		if (this.#ended) {
			throw new BugError(`The transaction of step ${this.scope.stepIndex} of saga ${this.scope.sagaId} was used after it ended (ctx.db kept beyond run/compensate?).`);
		}

		this.#opening ??= new Promise<pg.PoolClient>((resolve, reject) => {
			let began = false;
			this.#session = this.pools
				.withClient('primary', async client => {
					await client.query('BEGIN');
					await client.query(`SELECT set_config('msdb.actor', $1, true)`, [`saga:${this.scope.sagaName}:${this.scope.sagaId}`]);
					began = true;
					const ending = await new Promise<Ending>(end => {
						this.#end = end;
						resolve(client);
					});
					// Thrown so withClient discards a connection that broke instead of pooling it.
					if (ending.error !== undefined) {
						throw ending.error;
					}
				})
				.catch((error: unknown) => {
					if (!began) {
						reject(error);
					}
				});
		});
		return this.#opening;
	}

	/** Hands the connection back to the pool (and waits for that, so close() finds it returned). */
	async #finish(ending: Ending): Promise<void> {
		this.#ended = true;
		this.#end?.(ending);
		await this.#session;
	}
}

/** JSON text for a jsonb parameter; `undefined` is stored as null. Throws `E_BAD_ARGUMENT` for what JSON cannot hold. */
export function toJson(value: unknown, what: string): string {
	let text: string | undefined;
	try {
		text = JSON.stringify(value === undefined ? null : value);
	} catch (error) {
		throw new ActionableError('E_BAD_ARGUMENT', `${what} cannot be stored as JSON: ${error instanceof Error ? error.message : String(error)}`, {
			nextStep: 'Return plain data (objects, arrays, strings, numbers, booleans, null) from saga steps.',
			cause: error,
		});
	}

	// JSON.stringify returns undefined for functions and symbols.
	if (text === undefined) {
		throw new ActionableError('E_BAD_ARGUMENT', `${what} cannot be stored as JSON (it is a ${typeof value}).`, {
			nextStep: 'Return plain data (objects, arrays, strings, numbers, booleans, null) from saga steps.',
		});
	}

	return text;
}
