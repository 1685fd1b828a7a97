import type pg from 'pg';
import {throwIfCancelled} from '../cancellation.js';
import {ActionableError} from '../errors.js';
import {redisKeyPrefix} from '../redis/key-names.js';
import {LuaScript} from '../redis/lua-script.js';
import {isCluster, masterNodes, type RedisClient} from '../redis/redis-client.js';
import type {StatusEvent} from '../status-event.js';
import {AGENT_STATE_DOMAIN, agentStateKey, agentStatePartition, STATE_FIELDS, stateContentHash} from './agent-state-layout.js';

/**
 * What is wrong with one agent's Redis copy, compared with its `agents.state` row:
 * - `missing-in-redis`: no key at all (normal once an eventual copy or a tombstone expired, a
 *   loss otherwise); repair writes the copy. A tombstone (`v` without `s`, the postgres-first
 *   invalidation) is no copy on purpose and not a difference, unless it is newer than the row;
 * - `version-mismatch`: the copy is older than PostgreSQL (or its version is unreadable); repaired;
 * - `content-mismatch`: same version, different content (or unparseable JSON); repaired;
 * - `redis-ahead`: the copy (or tombstone) is newer than PostgreSQL: a redis-first / eventual
 *   write not persisted yet (or a stuck write-behind). Never overwritten: PostgreSQL will catch up;
 * - `extra-in-redis`: a copy with no `agents.state` row: a deleted agent, or a redis-first write
 *   of a new agent not persisted yet. Reported only: deleting it could lose that write.
 */
export type AgentStateDifferenceKind = 'missing-in-redis' | 'version-mismatch' | 'content-mismatch' | 'redis-ahead' | 'extra-in-redis';

/** Every difference kind, in the order reports list them. */
export const AGENT_STATE_DIFFERENCE_KINDS: readonly AgentStateDifferenceKind[] = [
	'missing-in-redis',
	'version-mismatch',
	'content-mismatch',
	'redis-ahead',
	'extra-in-redis',
];

/** One side of a comparison; `null` fields: absent or unreadable (a corrupt version or JSON, a key of another type). */
export type AgentStateCopy = {version: number | null; hash: string | null};

export type AgentStateDifference = {
	agentId: string;
	kind: AgentStateDifferenceKind;
	/** Null for `extra-in-redis`. */
	postgres: {version: number; hash: string} | null;
	/** Null for `missing-in-redis`. */
	redis: AgentStateCopy | null;
	/** True when this run wrote the Redis copy from PostgreSQL. */
	repaired: boolean;
};

export type ReconcileAgentStateOptions = {
	/** Where `agents.state` is read: a client or a pool (the primary: a lagging replica would report false differences). */
	database: pg.ClientBase | pg.Pool;
	/** The connection that holds the agent state copies. */
	redis: RedisClient;
	/** The key environment (MSDB_ENV). */
	env: string;
	/** Rows per batch (one keyset-paginated query, one HMGET pipeline per partition). Default 500. */
	batchSize?: number;
	/** Write the Redis copy from PostgreSQL where it is missing, older or different. Default false. */
	repair?: boolean;
	/** Look for Redis copies with no row (a SCAN of the agent-state keys). Default true. */
	findExtras?: boolean;
	/** Keys the extras SCAN may return per primary before it stops (the result says so). Default 1 000 000. */
	scanLimit?: number;
	/** Differences listed in the result; the counts stay exact beyond it. Default 10 000. */
	maxListed?: number;
	signal?: AbortSignal;
	onEvent?: (event: StatusEvent) => void;
};

export type ReconcileAgentStateResult = {
	env: string;
	/** `agents.state` rows compared. */
	checked: number;
	/** Rows whose Redis key is a tombstone (postgres-first invalidation): no copy, on purpose; not differences unless newer than the row. */
	tombstones: number;
	/** Differences found, by kind (all of them, listed or not). */
	counts: Record<AgentStateDifferenceKind, number>;
	/** In agent id order, then the extras; at most `maxListed`. */
	differences: AgentStateDifference[];
	/** True when more differences were found than listed. */
	truncated: boolean;
	/** Copies written from PostgreSQL by this run. */
	repaired: number;
	/** Differences left after this run (all of them without repair). */
	remaining: number;
	/** The extras SCAN: keys looked at, and whether it covered every primary to the end. */
	extras: {searched: boolean; keysScanned: number; complete: boolean};
};

export const DEFAULT_RECONCILE_BATCH_SIZE = 500;
const DEFAULT_SCAN_LIMIT = 1_000_000;
const DEFAULT_MAX_LISTED = 10_000;
const SCAN_COUNT = 1000;
const STATUS_INTERVAL_MS = 1000;
const DECIMAL = /^\d+$/;
const UUID = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/i;

/**
 * Writes the copy from PostgreSQL unless Redis holds a newer version by then: the check and the
 * write are one step, so a writer that got in between the comparison and the repair wins. A key
 * of another type is replaced (it cannot be anyone's newer write).
 * KEYS[1] state key · ARGV[1] PostgreSQL version · ARGV[2] state JSON. Returns 1 written, 0 Redis ahead.
 */
const repairScript = new LuaScript(
	'msdb:agent-state-repair',
	`
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'hash' and kind ~= 'none' then
	redis.call('DEL', KEYS[1])
end
local current = tonumber(redis.call('HGET', KEYS[1], '${STATE_FIELDS.version}'))
if current ~= nil and current > tonumber(ARGV[1]) then
	return 0
end
redis.call('HSET', KEYS[1], '${STATE_FIELDS.version}', ARGV[1], '${STATE_FIELDS.state}', ARGV[2])
return 1
`,
);

type PostgresRow = {agent_id: string; version: string; state: unknown};

/**
 * Compares every `agents.state` row with its Redis copy (version and {@link stateContentHash}), in
 * batches walked by agent id (keyset pagination: stable while rows are updated, and each batch is
 * an index range scan), and with `repair` writes back the copies that are missing, older or
 * different, never one that is newer. Then (unless `findExtras: false`) SCANs the agent-state keys
 * for copies with no row, and reports them.
 *
 * Concurrent writers are expected: PostgreSQL is read before Redis, so a change landing in between
 * shows as `redis-ahead` (left alone) or is one a repair cannot clobber (the version check).
 */
export async function reconcileAgentState(options: ReconcileAgentStateOptions): Promise<ReconcileAgentStateResult> {
	const batchSize = options.batchSize ?? DEFAULT_RECONCILE_BATCH_SIZE;
	const maxListed = options.maxListed ?? DEFAULT_MAX_LISTED;
	const report = new DifferenceReport(maxListed);
	const status = (message: string, live = false) => options.onEvent?.(live ? {type: 'status', message, live} : {type: 'status', message});
	let checked = 0;
	let tombstones = 0;
	let lastId: string | undefined;
	let lastStatusAt = Date.now();
	status(`Comparing agents.state with the Redis copies (env ${options.env}) in batches of ${batchSize}${options.repair ? ', repairing' : ''}`);
	for (;;) {
		throwIfCancelled(options.signal, `${checked} agents checked, ${report.repaired} Redis copies repaired.`);
		const rows = await readBatch(options.database, lastId, batchSize);
		if (rows.length === 0) {
			break;
		}

		lastId = rows.at(-1)?.agent_id;
		const copies = await readCopies(options.redis, options.env, rows.map(row => row.agent_id));
		for (const [index, row] of rows.entries()) {
			const copy = copies[index] ?? null;
			if (copy !== null && isTombstone(copy)) {
				tombstones++;
			}

			const difference = compare(row, copy);
			if (difference) {
				if (options.repair && difference.kind !== 'redis-ahead') {
					difference.repaired = await repair(options.redis, options.env, row);
				}

				report.add(difference);
			}
		}

		checked += rows.length;
		// A line per second at most: a batch every few milliseconds would flood a script's stderr.
		if (Date.now() - lastStatusAt >= STATUS_INTERVAL_MS) {
			lastStatusAt = Date.now();
			status(`${checked} agents checked, ${report.total} difference(s)${options.repair ? `, ${report.repaired} repaired` : ''}`, true);
		}
		if (rows.length < batchSize) {
			break;
		}
	}

	const extras = {searched: options.findExtras ?? true, keysScanned: 0, complete: false};
	if (extras.searched) {
		status('Looking for Redis copies with no agents.state row');
		const scan = await findExtras(options, report);
		extras.keysScanned = scan.keysScanned;
		extras.complete = scan.complete;
	}

	status(`${checked} agents checked, ${report.total} difference(s)${options.repair ? `, ${report.repaired} repaired` : ''}`);

	return {
		env: options.env,
		checked,
		tombstones,
		counts: report.counts,
		differences: report.listed,
		truncated: report.total > report.listed.length,
		repaired: report.repaired,
		remaining: report.total - report.repaired,
		extras,
	};
}

class DifferenceReport {
	readonly counts = Object.fromEntries(AGENT_STATE_DIFFERENCE_KINDS.map(kind => [kind, 0])) as Record<AgentStateDifferenceKind, number>;
	readonly listed: AgentStateDifference[] = [];
	total = 0;
	repaired = 0;

	constructor(private readonly maxListed: number) {}

	add(difference: AgentStateDifference): void {
		this.counts[difference.kind]++;
		this.total++;
		if (difference.repaired) {
			this.repaired++;
		}

		if (this.listed.length < this.maxListed) {
			this.listed.push(difference);
		}
	}
}

async function readBatch(database: pg.ClientBase | pg.Pool, after: string | undefined, limit: number): Promise<PostgresRow[]> {
	// Two texts rather than "$1 IS NULL OR agent_id > $1", which would not use the primary key's index.
	const text =
		after === undefined
			? 'SELECT agent_id::text AS agent_id, version::text AS version, state FROM agents.state ORDER BY agent_id LIMIT $1'
			: 'SELECT agent_id::text AS agent_id, version::text AS version, state FROM agents.state WHERE agent_id > $2::uuid ORDER BY agent_id LIMIT $1';
	try {
		const result = await database.query<PostgresRow>(text, after === undefined ? [limit] : [limit, after]);
		return result.rows;
	} catch (error) {
		throw missingSchema(error) ?? error;
	}
}

function missingSchema(error: unknown): ActionableError | undefined {
	const code = (error as {code?: string}).code;
	if (code !== '42P01' && code !== '3F000') {
		return undefined;
	}

	return new ActionableError('E_SQL_FAILED', `This database has no agents.state table: ${(error as Error).message}`, {
		nextStep: 'Point --database-url / DATABASE_URL at the framework database, or run `msdb migrate apply` first.',
		cause: error,
	});
}

/**
 * HMGET v s of each agent's key. Keys are grouped by partition because a cluster pipeline must
 * stay within one slot's node, and a partition is one hash tag, so one slot.
 */
async function readCopies(redis: RedisClient, env: string, agentIds: readonly string[]): Promise<Array<RawCopy | null>> {
	const byPartition = new Map<number, number[]>();
	for (const [index, agentId] of agentIds.entries()) {
		const partition = isCluster(redis) ? agentStatePartition(agentId) : 0;
		const indexes = byPartition.get(partition) ?? [];
		indexes.push(index);
		byPartition.set(partition, indexes);
	}

	const copies: Array<RawCopy | null> = Array.from({length: agentIds.length}, () => null);
	await Promise.all(
		[...byPartition.values()].map(async indexes => {
			const pipeline = redis.pipeline();
			for (const index of indexes) {
				pipeline.hmget(agentStateKey(env, agentIds[index] ?? ''), STATE_FIELDS.version, STATE_FIELDS.state);
			}

			const replies = (await pipeline.exec()) ?? [];
			for (const [position, index] of indexes.entries()) {
				copies[index] = toRawCopy(replies[position]);
			}
		}),
	);
	return copies;
}

/** A copy as read: `wrongType` when the key exists but is not a hash. */
type RawCopy = {version: string | null; state: string | null; wrongType: boolean};

function toRawCopy(reply: [Error | null, unknown] | undefined): RawCopy | null {
	if (!reply) {
		return null;
	}

	const [error, value] = reply;
	if (error) {
		if (/^WRONGTYPE/.test(error.message)) {
			return {version: null, state: null, wrongType: true};
		}

		throw error;
	}

	const [version, state] = value as [string | null, string | null];
	return version === null && state === null ? null : {version, state, wrongType: false};
}

function readCopy(raw: RawCopy): AgentStateCopy {
	if (raw.wrongType) {
		return {version: null, hash: null};
	}

	const version = raw.version !== null && DECIMAL.test(raw.version) ? Number(raw.version) : null;
	let hash: string | null = null;
	if (raw.state !== null) {
		try {
			hash = stateContentHash(JSON.parse(raw.state));
		} catch {
			hash = null;
		}
	}

	return {version, hash};
}

function compare(row: PostgresRow, raw: RawCopy | null): AgentStateDifference | undefined {
	const postgres = {version: Number(row.version), hash: stateContentHash(row.state)};
	if (raw === null) {
		return {agentId: row.agent_id, kind: 'missing-in-redis', postgres, redis: null, repaired: false};
	}

	const redis = readCopy(raw);
	if (isTombstone(raw)) {
		// A postgres-first invalidation: no copy, on purpose. Only a tombstone newer than the row
		// is a difference (it would keep PostgreSQL's version from being cached again).
		return redis.version !== null && redis.version > postgres.version ? {agentId: row.agent_id, kind: 'redis-ahead', postgres, redis, repaired: false} : undefined;
	}

	const kind: AgentStateDifferenceKind | undefined =
		redis.version === null || redis.version < postgres.version
			? 'version-mismatch'
			: redis.version > postgres.version
				? 'redis-ahead'
				: redis.hash === postgres.hash
					? undefined
					: 'content-mismatch';
	return kind ? {agentId: row.agent_id, kind, postgres, redis, repaired: false} : undefined;
}

/** `v` without `s` (agent-state-layout.ts): "no copy; PostgreSQL holds version v or newer". */
function isTombstone(raw: RawCopy): boolean {
	return !raw.wrongType && raw.state === null && raw.version !== null && DECIMAL.test(raw.version);
}

async function repair(redis: RedisClient, env: string, row: PostgresRow): Promise<boolean> {
	const written = await repairScript.run(redis, [agentStateKey(env, row.agent_id)], [row.version, JSON.stringify(row.state)]);
	return written === 1;
}

/**
 * SCANs `ms:<env>:agent-state:*` on every primary (the write-behind and events streams have
 * other domains, so they do not match) and reports keys that are not the key of an agent with a
 * row: unknown shapes, and agents with no `agents.state` row.
 */
async function findExtras(options: ReconcileAgentStateOptions, report: DifferenceReport): Promise<{keysScanned: number; complete: boolean}> {
	const prefix = redisKeyPrefix({env: options.env, domain: AGENT_STATE_DOMAIN});
	const scanLimit = options.scanLimit ?? DEFAULT_SCAN_LIMIT;
	if (isCluster(options.redis)) {
		// A cluster client knows its masters only once it has loaded the slot map.
		await options.redis.ping();
	}

	let keysScanned = 0;
	let complete = true;
	for (const node of masterNodes(options.redis)) {
		let cursor = '0';
		let scannedHere = 0;
		do {
			throwIfCancelled(options.signal, `Extras search stopped after ${keysScanned} keys.`);
			const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', SCAN_COUNT);
			cursor = next;
			scannedHere += keys.length;
			keysScanned += keys.length;
			await reportExtras(options, report, keys);
			if (scannedHere >= scanLimit && cursor !== '0') {
				complete = false;
				break;
			}
		} while (cursor !== '0');
	}

	return {keysScanned, complete};
}

async function reportExtras(options: ReconcileAgentStateOptions, report: DifferenceReport, keys: readonly string[]): Promise<void> {
	const candidates = keys.map(key => ({key, agentId: agentIdOfKey(key)}));
	const wellFormed = candidates.filter(({key, agentId}) => UUID.test(agentId) && agentStateKey(options.env, agentId) === key);
	const withRow = new Set<string>();
	if (wellFormed.length > 0) {
		const result = await options.database.query<{agent_id: string}>('SELECT agent_id::text AS agent_id FROM agents.state WHERE agent_id = ANY($1::uuid[])', [
			wellFormed.map(({agentId}) => agentId.toLowerCase()),
		]);
		for (const {agent_id: agentId} of result.rows) {
			withRow.add(agentId);
		}
	}

	for (const {key, agentId} of candidates) {
		// A row's own key (PostgreSQL prints uuids in lower case) was compared in the walk.
		if (withRow.has(agentId) && agentStateKey(options.env, agentId) === key) {
			continue;
		}

		const raw = await readExtraCopy(options.redis, key);
		if (raw === null) {
			continue; // Deleted since the SCAN.
		}

		if (isTombstone(raw)) {
			continue; // Not a copy: an invalidation marker, which expires on its own.
		}

		report.add({agentId, kind: 'extra-in-redis', postgres: null, redis: readCopy(raw), repaired: false});
	}
}

/** The agent id part of `ms:<env>:agent-state:{p<n>}:<agentId>` (the whole rest for other shapes). */
function agentIdOfKey(key: string): string {
	const rest = key.slice(key.indexOf(`:${AGENT_STATE_DOMAIN}:`) + AGENT_STATE_DOMAIN.length + 2);
	const match = /^\{p\d+\}:(.+)$/.exec(rest);
	return match?.[1] ?? rest;
}

async function readExtraCopy(redis: RedisClient, key: string): Promise<RawCopy | null> {
	try {
		const [version = null, state = null] = await redis.hmget(key, STATE_FIELDS.version, STATE_FIELDS.state);
		if (version === null && state === null && (await redis.exists(key)) === 0) {
			return null;
		}

		return {version, state, wrongType: false};
	} catch (error) {
		if (error instanceof Error && /^WRONGTYPE/.test(error.message)) {
			return {version: null, state: null, wrongType: true};
		}

		throw error;
	}
}
