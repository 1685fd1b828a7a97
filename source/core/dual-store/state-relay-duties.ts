import type pg from 'pg';
import type {RedisClient} from '../redis/redis-client.js';
import type {DutyOutcome, DutyRunContext, WorkerDuty} from '../worker/worker-duty.js';
import {addRelayCounts} from './dual-store-metrics.js';
import type {OutboxRelay} from './outbox-relay.js';
import type {WriteBehindWriter} from './write-behind-writer.js';

/** "msdb_sob" in ASCII: the advisory lock of the state outbox relay. */
export const STATE_OUTBOX_LOCK_KEY = '7886757746126843746';

/** "msdb_swb" in ASCII: the advisory lock of the state write-behind writer. */
export const STATE_WRITE_BEHIND_LOCK_KEY = '7886757746126845794';

/**
 * Whether the database has the outbox (migration 12). Until it does the relays have nothing to
 * do and say so once; once it has, it is not asked again (tables do not disappear under a
 * running worker, and if one does, the relay's own statement fails and says why).
 */
class SchemaGate {
	#present = false;
	#said = false;

	async ready(client: pg.ClientBase, name: string, report: (message: string) => void): Promise<boolean> {
		if (this.#present) {
			return true;
		}

		const result = await client.query<{present: boolean}>("SELECT to_regclass('agents.state_outbox') IS NOT NULL AND to_regclass('agents.state') IS NOT NULL AS present");
		this.#present = result.rows[0]?.present === true;
		if (!this.#present && !this.#said) {
			this.#said = true;
			report(`${name}: idle: this database has no agents.state_outbox yet (migration 12; \`msdb migrate apply\`)`);
		}

		return this.#present;
	}
}

/**
 * The outbox relay as a worker duty: each run drains `agents.state_outbox` (and any re-warm of
 * Redis under way), then the worker schedules the next. What a run did goes into the worker's
 * totals; only the unusual (repairs, a re-warm, dropped copies) is said as news, since relaying
 * itself happens many times a second.
 */
/** Where the duties add their counts for `msdb metrics` (dual-store-metrics.ts). */
export type RelayCountsTarget = {redis: RedisClient; env: string};

export function stateOutboxDuty(relay: OutboxRelay, counts: RelayCountsTarget): WorkerDuty {
	const gate = new SchemaGate();
	return {
		name: 'state-outbox',
		lockKey: STATE_OUTBOX_LOCK_KEY,
		async run({client, stopping, report}: DutyRunContext): Promise<DutyOutcome> {
			if (!(await gate.ready(client, 'state-outbox', report))) {
				return {news: undefined, changesRelayed: 0, repairs: 0};
			}

			const outcome = await relay.drain(client, stopping);
			await addRelayCounts(counts.redis, counts.env, {relayed: outcome.relayed, repairs: outcome.repairs, filled: outcome.filled, dropped: outcome.dropped, rewarmed: outcome.rewarmed});
			const notes = [
				outcome.repairs > 0 ? `repaired ${outcome.repairs} Redis cop${outcome.repairs === 1 ? 'y' : 'ies'} older than PostgreSQL` : '',
				outcome.dropped > 0 ? `dropped ${outcome.dropped} Redis cop${outcome.dropped === 1 ? 'y' : 'ies'} of deleted agents` : '',
				outcome.rewarmStarted ? 'Redis has no agent-state copies (new or restarted without its data): re-warming them from PostgreSQL' : '',
				outcome.rewarmFinished ? `re-warm finished (${outcome.rewarmed} cop${outcome.rewarmed === 1 ? 'y' : 'ies'} in this run)` : '',
			].filter(Boolean);
			return {news: notes.length > 0 ? `state-outbox: ${notes.join('; ')}` : undefined, changesRelayed: outcome.relayed, repairs: outcome.repairs};
		},
	};
}

/** The write-behind writer as a worker duty: each run drains the partition streams. */
export function stateWriteBehindDuty(writer: WriteBehindWriter, counts: RelayCountsTarget): WorkerDuty {
	const gate = new SchemaGate();
	let waitingSaid = '';
	return {
		name: 'state-write-behind',
		lockKey: STATE_WRITE_BEHIND_LOCK_KEY,
		async run({client, stopping, report}: DutyRunContext): Promise<DutyOutcome> {
			if (!(await gate.ready(client, 'state-write-behind', report))) {
				return {news: undefined, entriesPersisted: 0, entriesClaimed: 0};
			}

			const outcome = await writer.drain(client, stopping);
			await addRelayCounts(counts.redis, counts.env, {persisted: outcome.persisted, claimed: outcome.claimed, orphaned: outcome.orphaned, rejected: outcome.rejected.length, gone: outcome.gone});
			const waiting = outcome.waitingFor.join(', ');
			// Said when it starts waiting for a consumer, not on every run while it waits.
			if (waiting !== '' && waiting !== waitingSaid) {
				report(`state-write-behind: entries of consumer(s) ${waiting} are pending; their partitions wait until the entries are idle long enough to claim (the consumer died or lost its lock)`);
			}

			waitingSaid = waiting;
			const notes = [
				outcome.claimed > 0 ? `claimed ${outcome.claimed} entr${outcome.claimed === 1 ? 'y' : 'ies'} of a writer that stopped` : '',
				outcome.orphaned > 0 ? `dropped ${outcome.orphaned} entr${outcome.orphaned === 1 ? 'y' : 'ies'} of deleted agents` : '',
				outcome.gone > 0
					? `${outcome.gone} entr${outcome.gone === 1 ? 'y was' : 'ies were'} gone from Redis before their commit (Redis restarted without its data: those acknowledged writes are lost; or another writer claimed them)`
					: '',
				...outcome.rejected.map(rejected => `PostgreSQL refused version ${rejected.version} of agent ${rejected.agentId} (${rejected.error}); dropped, and its Redis copy removed`),
			].filter(Boolean);
			return {news: notes.length > 0 ? `state-write-behind: ${notes.join('; ')}` : undefined, entriesPersisted: outcome.persisted, entriesClaimed: outcome.claimed};
		},
	};
}
