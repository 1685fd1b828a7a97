import {ActionableError} from '../errors.js';
import {hashTag, redisKey, type KeyNamespace} from '../redis/key-names.js';

/**
 * Where the fleet's heartbeats live in Redis (key-names.ts convention):
 *
 *   ms:<env>:fleet:{fleet}:<instanceId>   one process's last snapshot (compact JSON, PX 3 × interval)
 *   ms:<env>:fleet:{fleet}:index          sorted set: instanceId scored by its snapshot's expiry
 *                                         (epoch ms, the Redis server's clock)
 *
 * Why an index: the reader finds the live instances with one ZRANGE instead of a SCAN over the
 * whole keyspace (every primary of a cluster). Why the `{fleet}` hash tag: every key of the fleet
 * sits in one cluster slot, so a publish (snapshot + index) is one atomic script and a read is one
 * MGET. Why scores are expiry times from the server's clock: a crashed process leaves an index
 * entry behind, and anyone can drop the entries whose time has passed without trusting the clocks
 * of the hosts that wrote them.
 */
export class FleetKeyspace {
	readonly env: string;
	/** The sorted set of instance ids. */
	readonly indexKey: string;
	/** `ms:<env>:fleet:{fleet}:`, what every instance key starts with. */
	readonly instancePrefix: string;

	constructor(env: string) {
		const namespace: KeyNamespace = {env, domain: 'fleet'};
		// Validates env with the project-wide rules.
		this.instancePrefix = `${redisKey(namespace, hashTag('fleet'))}:`;
		this.indexKey = `${this.instancePrefix}${INDEX_NAME}`;
		this.env = env;
	}

	/**
	 * The snapshot key of one instance. Not validated here: the reader builds keys from ids other
	 * processes wrote; the publisher checks its own id with {@link checkInstanceId}.
	 */
	instance(instanceId: string): string {
		return this.instancePrefix + instanceId;
	}
}

const INDEX_NAME = 'index';

/**
 * Checks an instance id given by the caller: it becomes part of a key name, so it must be a safe
 * key part (no spaces, no braces that would move it out of the fleet's slot), and it must not be
 * the index's name.
 */
export function checkInstanceId(instanceId: string): string {
	if (instanceId !== INDEX_NAME && instanceId.length <= 200 && /^[A-Za-z0-9_.:@+=/-]+$/.test(instanceId)) {
		return instanceId;
	}

	throw new ActionableError('E_CONFIG_INVALID', `The heartbeat instanceId ${JSON.stringify(instanceId)} cannot be part of a Redis key name.`, {
		nextStep: `Use up to 200 of [A-Za-z0-9_.:@+=/-] (not "${INDEX_NAME}"), or leave instanceId out to get <host>:<pid>:<random>.`,
		details: {option: 'instanceId'},
	});
}
