import {createRedisClient} from '../redis/create-redis-client.js';
import {redact} from '../redact.js';
import {REDIS_ROLES, type RedisConfig, type RedisEndpoint, type RedisRole} from '../redis/redis-config.js';
import {checkRedisHealth, type RedisRoleHealth} from '../redis/redis-health.js';
import type {CheckFamily} from './guarded-check.js';
import type {HealthCheck} from './health-check-types.js';

/**
 * `redis:<role>` for every Redis role. Roles usually share one server (REDIS_URL); each distinct
 * endpoint is checked once and its result reported for every role that uses it, so a script
 * keying on `redis:sessions` finds it whatever the deployment's layout.
 */
export function redisChecks(config: RedisConfig, options: {timeoutMs: number}): CheckFamily {
	const groups = groupRolesByEndpoint(config);
	return {
		async run(signal) {
			const results = await Promise.all(groups.map(async group => checkEndpoint(group.roles[0] as RedisRole, config.endpoints[group.roles[0] as RedisRole], options.timeoutMs, signal)));
			return REDIS_ROLES.map(role => {
				const index = groups.findIndex(candidate => candidate.roles.includes(role));
				const checkedAs = groups[index]?.roles[0] ?? role;
				return describe(role, checkedAs, config.endpoints[role], results[index]);
			});
		},
		failed(failure) {
			return REDIS_ROLES.map(role => ({
				name: `redis:${role}`,
				status: 'fail' as const,
				message: `${config.endpoints[role].display}: ${failure.message}`,
				nextStep: failure.nextStep ?? nextStepFor(config.endpoints[role]),
			}));
		},
	};
}

/**
 * One connection of its own per endpoint, dropped (not QUIT) afterwards: a health check must not
 * wait for a polite goodbye from a server that is not answering, nor leave a reconnect loop behind.
 */
async function checkEndpoint(role: RedisRole, endpoint: RedisEndpoint, timeoutMs: number, signal: AbortSignal): Promise<RedisRoleHealth> {
	const {client} = createRedisClient(endpoint, {connectionName: 'msdb:health', commandTimeoutMs: timeoutMs, connectTimeoutMs: timeoutMs, maxReconnectDelayMs: 500});
	let lastError: string | undefined;
	client.on('error', (error: Error) => {
		lastError = redact(error.message);
	});
	const drop = () => client.disconnect();
	signal.addEventListener('abort', drop, {once: true});
	try {
		const health = await checkRedisHealth(client, {role, endpoint: endpoint.display, mode: endpoint.kind, timeoutMs});
		// "the connection failed" says little; the connection's own last error says why.
		if (!health.reachable && lastError && !health.error?.includes(lastError)) {
			health.error = `${health.error ?? 'unreachable'} (${lastError})`;
		}

		return health;
	} finally {
		signal.removeEventListener('abort', drop);
		drop();
	}
}

/** Roles grouped by the deployment they reach, in REDIS_ROLES order; the first role checks it. */
function groupRolesByEndpoint(config: RedisConfig): Array<{key: string; roles: RedisRole[]}> {
	const groups: Array<{key: string; roles: RedisRole[]}> = [];
	for (const role of REDIS_ROLES) {
		const key = endpointKey(config.endpoints[role]);
		const group = groups.find(candidate => candidate.key === key);
		if (group) {
			group.roles.push(role);
		} else {
			groups.push({key, roles: [role]});
		}
	}

	return groups;
}

/** What makes two endpoints the same connection: where, which database, as whom (never printed). */
function endpointKey(endpoint: RedisEndpoint): string {
	const {display: _display, source: _source, ...identity} = endpoint;
	return JSON.stringify(identity);
}

function describe(role: RedisRole, checkedAs: RedisRole, endpoint: RedisEndpoint, health: RedisRoleHealth | undefined): HealthCheck {
	const name = `redis:${role}`;
	const shared = checkedAs === role ? '' : ` (same server as redis:${checkedAs})`;
	const where = `${endpoint.display} (from ${endpoint.source === 'default' ? 'the default, no REDIS_URL set' : endpoint.source})`;
	if (!health?.reachable) {
		return {
			name,
			status: 'fail',
			// The error is said once, by the role that checked the server.
			message: shared ? `unreachable at ${where}${shared}` : `unreachable at ${where}: ${health?.error ?? 'no answer'}`,
			nextStep: nextStepFor(endpoint),
			details: {endpoint: endpoint.display, source: endpoint.source, mode: endpoint.kind},
		};
	}

	const details = {
		endpoint: endpoint.display,
		source: endpoint.source,
		mode: health.mode,
		...(health.serverVersion ? {version: health.serverVersion} : {}),
		...(health.serverRole ? {serverRole: health.serverRole} : {}),
		...(health.clusterState ? {clusterState: health.clusterState} : {}),
		...(health.usedMemoryBytes === undefined ? {} : {usedMemoryBytes: health.usedMemoryBytes}),
		...(health.maxMemoryBytes === undefined ? {} : {maxMemoryBytes: health.maxMemoryBytes}),
	};
	const base = {name, ...(health.latencyMs === undefined ? {} : {latencyMs: health.latencyMs}), details};
	if (health.clusterState !== undefined && health.clusterState !== 'ok') {
		return {
			...base,
			status: 'fail',
			message: `Redis Cluster at ${where} reports cluster_state ${health.clusterState}${shared}`,
			nextStep: 'Check the cluster (`redis-cli --cluster check <node>`): every slot needs a reachable master.',
		};
	}

	if (health.serverRole === 'replica') {
		return {
			...base,
			status: 'fail',
			message: `Redis at ${where} is a read-only replica: writes of the ${role} role would fail${shared}`,
			nextStep: `Point ${endpoint.source === 'default' ? 'REDIS_URL' : endpoint.source} at the primary, or use a redis+sentinel:// URL that follows failovers.`,
		};
	}

	return {...base, status: 'pass', message: `Redis ${health.serverVersion ?? '?'} at ${where}${shared}`};
}

function nextStepFor(endpoint: RedisEndpoint): string {
	return endpoint.source === 'default'
		? 'Start Redis on 127.0.0.1:6379, or set REDIS_URL (or --redis-url) to the framework\'s Redis.'
		: `Check that Redis is running and reachable, and that ${endpoint.source} points at it.`;
}
