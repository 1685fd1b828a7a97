import {z} from 'zod';
import type {AgentStateDifference, ReconcileAgentStateResult} from '../../core/dual-store/reconcile-agent-state.js';
import {AGENT_STATE_REDIS_ROLE} from '../../core/dual-store/agent-state-layout.js';
import {REDIS_ROLES} from '../../core/redis/redis-config.js';
import {defineCommand} from '../command-definition.js';
import {globalOptions} from '../global-options.js';
import {optionMeta} from '../option-meta.js';
import {table, text, type OutputBlock, type Tone} from '../output-blocks.js';

/** Differences a person sees in the table; `--json` lists them all (up to the core's bound). */
const SHOWN_DIFFERENCES = 20;

/**
 * `msdb reconcile agent-state [--repair]`: compares every `agents.state` row with its Redis copy
 * (version and content hash) in batches, reports the differences and, with `--repair`, writes
 * the copies back from PostgreSQL (never over a newer Redis copy). Exit 0 when nothing is left
 * different, 3 when differences remain (a check found problems).
 */
export const reconcileAgentState = defineCommand({
	path: ['reconcile', 'agent-state'],
	description: 'Compare agent state in PostgreSQL and Redis (version and content hash); --repair rewrites Redis from PostgreSQL',
	options: z.object({
		...globalOptions,
		repair: z.boolean().default(false).describe(optionMeta({description: 'Write missing, older or different Redis copies from PostgreSQL (never a newer one)'})),
		batchSize: z
			.number()
			.int()
			.min(1)
			.max(10_000)
			.default(500)
			.describe(optionMeta({description: 'agents.state rows compared per batch', valueDescription: 'n', defaultValueDescription: '500'})),
		scanLimit: z
			.number()
			.int()
			.min(1000)
			.default(1_000_000)
			.describe(optionMeta({description: 'Agent-state keys the search for copies without a row may walk per primary', valueDescription: 'n', defaultValueDescription: '1000000'})),
		redisRole: z
			.enum(REDIS_ROLES)
			.default(AGENT_STATE_REDIS_ROLE)
			.describe(
				optionMeta({
					description: 'Redis role holding the agent state (its REDIS_<ROLE>_URL, else --redis-url, else REDIS_URL)',
					valueDescription: 'role',
					defaultValueDescription: AGENT_STATE_REDIS_ROLE,
				}),
			),
	}),
	async run({options}, context) {
		const [{reconcileAgentState: reconcile}, {resolveDatabaseConfig}, {connectDatabase}, {withRedisRole}, {keyEnvironment}] = await Promise.all([
			import('../../core/dual-store/reconcile-agent-state.js'),
			import('../../core/config/database-config.js'),
			import('../../core/database/connect.js'),
			import('../../core/redis/with-redis-role.js'),
			import('../../core/redis/key-names.js'),
		]);
		const env = keyEnvironment(context.env);
		const database = resolveDatabaseConfig(options.databaseUrl, context.env);
		const client = await connectDatabase(database, {applicationName: 'msdb:reconcile'});
		try {
			const {result, endpoint} = await withRedisRole(
				{redisUrl: options.redisUrl, env: context.env, role: options.redisRole, purpose: 'agent state'},
				async (redis, endpoint) => ({
					result: await reconcile({
						database: client,
						redis,
						env,
						batchSize: options.batchSize,
						repair: options.repair,
						scanLimit: options.scanLimit,
						signal: context.signal,
						onEvent: context.onEvent,
					}),
					endpoint,
				}),
			);
			return {
				exitCode: result.remaining === 0 ? 0 : 3,
				json: {database: database.display, redis: endpoint.display, ...result},
				human: describe(result, options.repair),
			};
		} finally {
			await client.end().catch(() => {});
		}
	},
});

function describe(result: ReconcileAgentStateResult, repair: boolean): OutputBlock[] {
	const found = Object.values(result.counts).reduce((sum, count) => sum + count, 0);
	const blocks: OutputBlock[] = [
		text(
			`${result.checked} agents compared (env ${result.env}): ${found} difference${found === 1 ? '' : 's'}` +
				(repair ? `, ${result.repaired} repaired, ${result.remaining} remaining` : ''),
			result.remaining === 0 ? 'success' : 'warning',
		),
	];
	if (result.tombstones > 0) {
		blocks.push(text(`${result.tombstones} agent(s) have a tombstone instead of a copy (postgres-first invalidation): no copy on purpose.`, 'muted'));
	}

	const counted = Object.entries(result.counts).filter(([, count]) => count > 0);
	if (counted.length > 0) {
		blocks.push(table(['KIND', 'COUNT'], counted.map(([kind, count]) => [kind, String(count)])));
		const shown = result.differences.slice(0, SHOWN_DIFFERENCES);
		blocks.push(
			table(
				['AGENT', 'KIND', 'PG VERSION', 'REDIS VERSION', 'REPAIRED'],
				shown.map(difference => [
					difference.agentId,
					difference.kind,
					difference.postgres ? String(difference.postgres.version) : '-',
					redisVersion(difference),
					difference.repaired ? 'yes' : 'no',
				]),
				shown.map((difference): Tone | undefined => (difference.repaired ? 'success' : 'warning')),
			),
		);
		if (found > shown.length) {
			blocks.push(text(`… and ${found - shown.length} more (--json lists ${result.truncated ? `the first ${result.differences.length}` : 'them all'})`, 'muted'));
		}
	}

	if (result.counts['redis-ahead'] > 0) {
		blocks.push(text('redis-ahead: writes not persisted to PostgreSQL yet (redis-first / eventual); left alone. Run again later: they should be gone.', 'muted'));
	}

	if (result.counts['extra-in-redis'] > 0) {
		blocks.push(text('extra-in-redis: copies with no agents.state row (a deleted agent, or a new one not persisted yet); reported only, never deleted.', 'muted'));
	}

	if (result.extras.searched && !result.extras.complete) {
		blocks.push(text(`The search for copies without a row stopped at --scan-limit (${result.extras.keysScanned} keys): extras may be missing.`, 'warning'));
	}

	const repairable = result.counts['missing-in-redis'] + result.counts['version-mismatch'] + result.counts['content-mismatch'];
	if (!repair && repairable > 0) {
		blocks.push(text('Run again with --repair to rewrite the Redis copies from PostgreSQL.', 'info'));
	}

	return blocks;
}

function redisVersion(difference: AgentStateDifference): string {
	if (!difference.redis) {
		return '-';
	}

	return difference.redis.version === null ? '?' : String(difference.redis.version);
}
