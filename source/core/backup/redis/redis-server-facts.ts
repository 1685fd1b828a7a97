/**
 * What backup and restore need to know about a Redis deployment before they start: its version
 * and replication position (for the manifest), and the newest RDB version it can load (for
 * refusing a backup it could not RESTORE).
 */
import {randomBytes} from 'node:crypto';
import type {Redis} from 'ioredis';
import {ActionableError} from '../../errors.js';
import {isCluster, masterNodes, type RedisClient} from '../../redis/redis-client.js';
import {parseInfo} from '../../redis/redis-health.js';
import {readDumpTrailer} from './dump-payload.js';
import {keySlot} from '../../redis/cluster-key-slot.js';

export type RedisServerFacts = {
	serverVersion: string;
	/** master_replid / master_repl_offset of a standalone primary; null on a cluster (one per shard). */
	replicationId: string | null;
	replicationOffset: number | null;
};

/** Waits until the client is connected, so that a cluster's master list is known. */
export async function whenReady(client: RedisClient): Promise<void> {
	if (client.status !== 'ready') {
		await client.ping();
	}
}

/** Version (and, standalone, replication id/offset) from INFO. */
export async function readServerFacts(client: RedisClient): Promise<RedisServerFacts> {
	await whenReady(client);
	const [first] = masterNodes(client);
	const info = parseInfo(await (first ?? client).info());
	const offset = info['master_repl_offset'];
	const cluster = isCluster(client);
	return {
		serverVersion: info['redis_version'] ?? 'unknown',
		replicationId: cluster ? null : (info['master_replid'] ?? null),
		replicationOffset: cluster || offset === undefined || !/^\d+$/.test(offset) ? null : Number(offset),
	};
}

/**
 * The RDB version the target writes (and so the newest it loads), read the way the design asks:
 * DUMP a scratch key and read the payload's 2-byte trailer. On a cluster every master is asked
 * (they may run different versions mid-upgrade) and the lowest wins. The scratch key lives for
 * at most a minute even if we die before deleting it.
 */
export async function readTargetRdbVersion(client: RedisClient): Promise<number> {
	await whenReady(client);
	const versions = await Promise.all(
		masterNodes(client).map(async node => probeNode(node, isCluster(client) ? scratchKeyFor(client.slots, nodeKeyOf(node)) : scratchKey())),
	);
	return Math.min(...versions);
}

async function probeNode(node: Redis, key: string): Promise<number> {
	try {
		await node.set(key, 'msdb', 'PX', 60_000);
		const payload = await node.dumpBuffer(key);
		const trailer = payload ? readDumpTrailer(payload) : undefined;
		if (!trailer) {
			throw new Error('DUMP returned no payload');
		}

		return trailer.rdbVersion;
	} catch (error) {
		throw new ActionableError(
			'E_REDIS_UNAVAILABLE',
			`Cannot read the RDB version of the Redis at ${nodeKeyOf(node)} (SET, DUMP and DEL of a scratch key): ${error instanceof Error ? error.message : String(error)}`,
			{
				nextStep: 'The restore target must be a writable primary that allows DUMP; check the user’s ACL permissions.',
				cause: error,
			},
		);
	} finally {
		await node.del(key).catch(() => undefined);
	}
}

function nodeKeyOf(node: Redis): string {
	return `${node.options.host ?? '127.0.0.1'}:${node.options.port ?? 6379}`;
}

function scratchKey(): string {
	return `msdb:restore:rdb-version-probe:${randomBytes(6).toString('hex')}`;
}

/** A scratch key whose slot the given master serves (about three tries with three masters). */
function scratchKeyFor(slots: string[][], nodeKey: string): string {
	for (let attempt = 0; attempt < 100_000; attempt++) {
		const key = scratchKey();
		if (slots[keySlot(Buffer.from(key))]?.[0] === nodeKey) {
			return key;
		}
	}

	throw new ActionableError('E_REDIS_UNAVAILABLE', `The cluster's slot map names no slot served by ${nodeKey}.`, {
		nextStep: 'Wait until the cluster is stable (CLUSTER INFO: cluster_state:ok), then try again.',
	});
}
