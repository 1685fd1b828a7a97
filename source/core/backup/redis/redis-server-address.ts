/**
 * Where one Redis server is and how to log in, for the raw connections of backup and restore
 * (the replication stream and pipelined RESTOREs go around ioredis: ioredis cannot hand out a
 * replication payload as a stream, and its per-command bookkeeping makes a mass RESTORE about
 * five times slower than writing the commands straight to a socket).
 */
import net from 'node:net';
import tls from 'node:tls';
import type {Redis} from 'ioredis';
import {ActionableError} from '../../errors.js';
import {redact} from '../../redact.js';
import type {RedisHostPort, SentinelEndpoint, StandaloneEndpoint} from '../../redis/redis-config.js';
import {RespConnection} from './resp-connection.js';

export type RedisServerAddress = {
	host: string;
	port: number;
	/** TLS options when the server speaks TLS (`rediss://`), else null. */
	tls: tls.ConnectionOptions | null;
	username?: string;
	/** Never print this. */
	password?: string;
};

export type ConnectOptions = {
	signal?: AbortSignal;
	/** Gives up on the TCP/TLS connection after this long (default 10 s). */
	timeoutMs?: number;
};

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** `host:port`, the form messages use. */
export function describeAddress(address: {host: string; port: number}): string {
	return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** Opens a TCP or TLS socket to the server; rejects with E_SERVICE_UNAVAILABLE naming it. */
export async function connectSocket(address: RedisServerAddress, options: ConnectOptions = {}): Promise<net.Socket> {
	const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
	return new Promise<net.Socket>((resolve, reject) => {
		const socket: net.Socket = address.tls
			? tls.connect({host: address.host, port: address.port, servername: net.isIP(address.host) ? undefined : address.host, ...address.tls})
			: net.connect({host: address.host, port: address.port});
		const readyEvent = address.tls ? 'secureConnect' : 'connect';
		const timer = setTimeout(() => fail(new Error(`no connection after ${timeoutMs} ms`)), timeoutMs);
		const onAbort = () => fail(new Error('cancelled'));
		const cleanup = () => {
			clearTimeout(timer);
			options.signal?.removeEventListener('abort', onAbort);
			socket.removeListener('error', fail);
			socket.removeListener(readyEvent, ready);
		};

		function ready() {
			cleanup();
			socket.setNoDelay(true);
			socket.setKeepAlive(true, 10_000);
			resolve(socket);
		}

		function fail(error: Error) {
			cleanup();
			socket.destroy();
			reject(
				new ActionableError('E_SERVICE_UNAVAILABLE', redact(`Cannot connect to Redis at ${describeAddress(address)}: ${error.message}`), {
					nextStep: 'Check the server is up and reachable from here (host, port, TLS), then try again.',
					cause: error,
				}),
			);
		}

		if (options.signal?.aborted) {
			fail(new Error('cancelled'));
			return;
		}

		options.signal?.addEventListener('abort', onAbort, {once: true});
		socket.once(readyEvent, ready);
		socket.once('error', fail);
	});
}

/** The address of the server a standalone or Sentinel endpoint points at (Sentinel: its current primary). */
export async function addressOfEndpoint(endpoint: StandaloneEndpoint | SentinelEndpoint, options: ConnectOptions = {}): Promise<RedisServerAddress> {
	const credentials = {
		...(endpoint.username === undefined ? {} : {username: endpoint.username}),
		...(endpoint.password === undefined ? {} : {password: endpoint.password}),
	};
	if (endpoint.kind === 'standalone') {
		return {host: endpoint.host, port: endpoint.port, tls: endpoint.tls ? {} : null, ...credentials};
	}

	const primary = await askSentinels(endpoint.sentinels, endpoint.masterName, options);
	return {...primary, tls: endpoint.tls ? {} : null, ...credentials};
}

/**
 * The address of the server an ioredis connection talks to: its options for a standalone server
 * or a cluster node, the Sentinels' answer for a Sentinel-managed primary.
 */
export async function addressOfClient(node: Redis, options: ConnectOptions = {}): Promise<RedisServerAddress> {
	const {options: settings} = node;
	const credentials = {
		...(settings.username ? {username: settings.username} : {}),
		...(settings.password ? {password: settings.password} : {}),
	};
	const tlsOptions = settings.tls ? {...settings.tls} : null;
	if (settings.sentinels && settings.sentinels.length > 0 && settings.name) {
		const sentinels = settings.sentinels.map(sentinel => ({host: sentinel.host ?? '127.0.0.1', port: sentinel.port ?? 26_379}));
		const primary = await askSentinels(sentinels, settings.name, options);
		return {...primary, tls: tlsOptions, ...credentials};
	}

	return {host: settings.host ?? '127.0.0.1', port: settings.port ?? 6379, tls: tlsOptions, ...credentials};
}

async function askSentinels(sentinels: readonly RedisHostPort[], masterName: string, options: ConnectOptions): Promise<{host: string; port: number}> {
	const problems: string[] = [];
	for (const sentinel of sentinels) {
		let connection: RespConnection | undefined;
		try {
			connection = await RespConnection.open({host: sentinel.host, port: sentinel.port, tls: null}, options);
			const reply = await connection.call(['SENTINEL', 'get-master-addr-by-name', masterName]);
			if (Array.isArray(reply) && reply.length === 2) {
				const [host, port] = reply.map(item => (Buffer.isBuffer(item) ? item.toString() : String(item)));
				if (host && Number(port) > 0) {
					return {host, port: Number(port)};
				}
			}

			problems.push(`${describeAddress(sentinel)} does not know the master ${JSON.stringify(masterName)}`);
		} catch (error) {
			problems.push(`${describeAddress(sentinel)}: ${error instanceof Error ? error.message : String(error)}`);
		} finally {
			connection?.close();
		}
	}

	throw new ActionableError('E_SERVICE_UNAVAILABLE', redact(`No Sentinel named the primary of ${JSON.stringify(masterName)}: ${problems.join('; ')}.`), {
		nextStep: 'Check the Sentinels are up and monitor that master name, then try again.',
	});
}
