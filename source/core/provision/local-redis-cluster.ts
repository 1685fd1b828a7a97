import getPort from 'get-port';
import type {Redis} from 'ioredis';
import {ActionableError} from '../errors.js';
import {OTHER_REDIS_SOURCES, requireRedisServer} from './local-redis.js';
import {once} from './provisioned-service.js';
import {
	pollUntil,
	localAdminClient,
	readRedisServerVersion,
	startRedisServerProcess,
} from './redis-server-process.js';
import type {ServerProcess} from './server-process.js';
import {createWorkDirectory, type WorkDirectory} from './work-directory.js';

export type LocalRedisClusterOptions = {
	/** Masters sharing the 16384 slots; at least 1 (default 3). */
	masters?: number;
	/** Replicas attached to each master (default 0). */
	replicasPerMaster?: number;
	/** Path of `redis-server`; searched on PATH when omitted. */
	redisServer?: string;
	/** How long forming the cluster may take before giving up (default 30 s). */
	startupTimeoutMs?: number;
};

/** A private Redis Cluster of child processes. */
export type LocalRedisCluster = {
	/** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,…`: every node as a seed. */
	readonly url: string;
	/** `redis://127.0.0.1:p` per node: the masters first, then the replicas. */
	readonly nodes: string[];
	/** One human line: what runs where. */
	readonly description: string;
	/** Stops every node and removes their directories. Idempotent. */
	stop(): Promise<void>;
};

type ClusterNode = {
	server: ServerProcess;
	port: number;
	busPort: number;
	directory: WorkDirectory;
	admin: Redis;
};

const SLOT_COUNT = 16_384;
// Short, so a node that dies in a test is noticed fast; long enough for a loaded CI machine.
const NODE_TIMEOUT_MS = 3000;

/**
 * Starts a Redis Cluster on 127.0.0.1: one `redis-server --cluster-enabled yes` child per node,
 * each in its own empty directory without persistence, formed with CLUSTER MEET / ADDSLOTSRANGE /
 * REPLICATE over ioredis (no redis-cli needed), and returned once every node reports
 * `cluster_state:ok`. Takes about a second.
 *
 * Needs Redis ≥ 7.0: the bus port is chosen explicitly (`--cluster-port`) instead of the implicit
 * port + 10000, which may be taken or beyond 65535, and slots are assigned with ADDSLOTSRANGE.
 */
export async function startLocalRedisCluster(options: LocalRedisClusterOptions = {}): Promise<LocalRedisCluster> {
	const masters = options.masters ?? 3;
	const replicasPerMaster = options.replicasPerMaster ?? 0;
	if (!Number.isInteger(masters) || masters < 1 || !Number.isInteger(replicasPerMaster) || replicasPerMaster < 0) {
		throw new ActionableError('E_BAD_ARGUMENT', `A local Redis Cluster needs masters ≥ 1 and replicasPerMaster ≥ 0 (got ${masters} and ${replicasPerMaster}).`, {
			nextStep: 'Pass whole numbers, e.g. {masters: 3, replicasPerMaster: 0}.',
		});
	}

	const redisServer = await requireRedisServer(options.redisServer, 'a private Redis Cluster');
	const version = await readRedisServerVersion(redisServer);
	const major = Number(version?.split('.')[0]);
	if (!(major >= 7)) {
		throw new ActionableError('E_SERVICE_UNAVAILABLE', `A local Redis Cluster needs redis-server 7.0 or newer; ${redisServer} is ${version ?? 'of unknown version'}.`, {
			nextStep: `Install Redis 7, ${OTHER_REDIS_SOURCES}.`,
		});
	}

	const timeoutMs = options.startupTimeoutMs ?? 30_000;
	const nodes: ClusterNode[] = [];
	const stopAll = async () => {
		await Promise.all(
			nodes.map(async node => {
				node.admin.disconnect();
				await node.server.stop();
				await node.directory.remove();
			}),
		);
	};

	try {
		const count = masters * (1 + replicasPerMaster);
		const started = await Promise.allSettled(
			Array.from({length: count}, async () => startNode(redisServer, timeoutMs)),
		);
		for (const result of started) {
			if (result.status === 'fulfilled') {
				nodes.push(result.value);
			}
		}

		const failure = started.find(result => result.status === 'rejected');
		if (failure) {
			throw failure.reason;
		}

		await formCluster(nodes, masters, Date.now() + timeoutMs);
	} catch (error) {
		await stopAll();
		throw error;
	}

	// The admin connections were only needed to form the cluster.
	for (const node of nodes) {
		node.admin.disconnect();
	}

	const seeds = nodes.map(node => `127.0.0.1:${node.port}`);
	return {
		url: `redis+cluster://${seeds.join(',')}`,
		nodes: seeds.map(seed => `redis://${seed}`),
		description: `Redis ${version} cluster, ${masters} master(s) × ${replicasPerMaster} replica(s), on ${seeds.join(', ')}`,
		stop: once(stopAll),
	};
}

async function startNode(redisServer: string, timeoutMs: number): Promise<ClusterNode> {
	const directory = await createWorkDirectory('msdb-redis-cluster-');
	let busPort = 0;
	try {
		const {server, port} = await startRedisServerProcess({
			redisServer,
			directory: directory.path,
			name: 'redis cluster node',
			startupTimeoutMs: timeoutMs,
			nextStep: `Read the node's log above; or ${OTHER_REDIS_SOURCES}.`,
			extraArgs: async port => {
				busPort = await getPort({exclude: [port]});
				return [
					'--cluster-enabled', 'yes',
					'--cluster-config-file', 'nodes.conf',
					'--cluster-port', String(busPort),
					'--cluster-node-timeout', String(NODE_TIMEOUT_MS),
					// A test cluster with one master down should still answer for the other slots.
					'--cluster-require-full-coverage', 'no',
					// Redis 7 waits 5 s before a diskless full sync, hoping more replicas join.
					'--repl-diskless-sync-delay', '0',
				];
			},
		});
		const admin = localAdminClient(port);
		try {
			await admin.connect();
		} catch (error) {
			await server.stop();
			throw error;
		}

		return {server, port, busPort, directory, admin};
	} catch (error) {
		await directory.remove();
		throw error;
	}
}

async function formCluster(nodes: readonly ClusterNode[], masters: number, deadline: number): Promise<void> {
	const ids = await Promise.all(nodes.map(async node => String(await node.admin.call('CLUSTER', 'MYID'))));
	// Distinct config epochs up front (what redis-cli --cluster create does): otherwise every
	// master starts at epoch 0 and the cluster spends a while resolving the collisions.
	await Promise.all(nodes.map(async (node, index) => node.admin.call('CLUSTER', 'SET-CONFIG-EPOCH', String(index + 1))));
	// Every node meets every other one: waiting for gossip to introduce them takes seconds.
	await Promise.all(
		nodes.flatMap(node =>
			nodes
				.filter(other => other !== node)
				.map(async other => node.admin.call('CLUSTER', 'MEET', '127.0.0.1', String(other.port), String(other.busPort))),
		),
	);
	await Promise.all(
		nodes.slice(0, masters).map(async (node, index) => {
			const start = Math.floor((index * SLOT_COUNT) / masters);
			const end = Math.floor(((index + 1) * SLOT_COUNT) / masters) - 1;
			await node.admin.call('CLUSTER', 'ADDSLOTSRANGE', String(start), String(end));
		}),
	);
	// A replica can only follow a master it already knows about through gossip.
	await pollUntil(deadline, 'The local Redis Cluster', 'every node to know every other node', async () =>
		(await Promise.all(nodes.map(async node => knownNodes(node.admin)))).every(known => known === nodes.length),
	);
	await Promise.all(
		nodes.slice(masters).map(async (node, index) => node.admin.call('CLUSTER', 'REPLICATE', ids[index % masters] ?? '')),
	);
	await pollUntil(deadline, 'The local Redis Cluster', 'cluster_state:ok on every node', async () => {
		const states = await Promise.all(
			nodes.map(async node => {
				const info = String(await node.admin.call('CLUSTER', 'INFO'));
				return /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info);
			}),
		);
		return states.every(Boolean);
	});
	await pollUntil(deadline, 'The local Redis Cluster', 'every replica to finish its first sync', async () => {
		const links = await Promise.all(
			nodes.slice(masters).map(async node => /master_link_status:up/.test(await node.admin.info('replication'))),
		);
		return links.every(Boolean);
	});
	// Clients read the slot map (CLUSTER SLOTS) from any node: wait until all of them name the same
	// master per range, so the first client never sees a partial topology. (Which replicas each
	// node lists catches up through gossip later; clients read from masters.)
	await pollUntil(deadline, 'The local Redis Cluster', 'every node to agree on the slot map', async () => {
		const maps = await Promise.all(nodes.map(async node => slotMapSignature(node.admin)));
		return maps.every(map => map === maps[0] && map.split(';').length === masters && !map.includes('?'));
	});
}

async function knownNodes(admin: Redis): Promise<number> {
	const text = String(await admin.call('CLUSTER', 'NODES'));
	const lines = text.split('\n').filter(line => line.trim() !== '');
	// A node still in handshake is not yet a member.
	return lines.filter(line => !/\bhandshake\b|\bnoaddr\b/.test(line)).length;
}

async function slotMapSignature(admin: Redis): Promise<string> {
	const slots = (await admin.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]?][];
	return slots
		.map(([start, end, master]) => `${start}-${end}:${master?.[0] && master[1] ? `${master[0]}:${master[1]}` : '?'}`)
		.sort()
		.join(';');
}
