import {createConnection} from 'node:net';
import getPort from 'get-port';
import {execa} from 'execa';
import {ActionableError} from '../errors.js';
import {ServerProcess} from './server-process.js';
import {createWorkDirectory} from './work-directory.js';

/** A private nats-server with JetStream, for tests: its own port and storage directory. */
export type LocalNats = {
	url: string;
	stop(): Promise<void>;
};

/** Where nats-server is: NATS_SERVER_BIN, else on PATH (Debian's package puts it in /usr/sbin). */
async function findNatsServer(env: NodeJS.ProcessEnv): Promise<string | undefined> {
	for (const candidate of [env.NATS_SERVER_BIN, 'nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server']) {
		if (!candidate) {
			continue;
		}

		const found = await execa(candidate, ['--version'], {reject: false, timeout: 5000});
		if (found.exitCode === 0) {
			return candidate;
		}
	}

	return undefined;
}

/**
 * Starts nats-server with JetStream on a free loopback port, storing its streams in an empty
 * temp directory (so no stream of an earlier run is found, and tests may create the subjects
 * they like without colliding with a shared server's streams). Ready when the port accepts a
 * connection and the server sent its INFO line.
 */
export async function startLocalNats(options: {env?: NodeJS.ProcessEnv; startupTimeoutMs?: number} = {}): Promise<LocalNats> {
	const env = options.env ?? process.env;
	const natsServer = await findNatsServer(env);
	if (!natsServer) {
		throw new ActionableError('E_SERVICE_UNAVAILABLE', 'nats-server was not found (looked at NATS_SERVER_BIN, PATH and /usr/sbin).', {
			nextStep: 'Install it (Debian: apt-get install nats-server), or point MSDB_TEST_NATS_URL at a NATS server with JetStream.',
		});
	}

	const directory = await createWorkDirectory('msdb-nats-');
	const port = await getPort({host: '127.0.0.1'});
	const server = ServerProcess.start({
		name: 'nats-server',
		command: natsServer,
		args: ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', directory.path],
		cwd: directory.path,
		stopSignal: 'SIGTERM',
		exitSignal: 'SIGKILL',
	});
	try {
		await server.waitUntilReady(async () => readInfoLine(port), {
			timeoutMs: options.startupTimeoutMs ?? 15_000,
			nextStep: 'Read nats-server\'s output above; a port taken by another process is retried by running the tests again.',
		});
	} catch (error) {
		await server.stop();
		await directory.remove();
		throw error;
	}

	return {
		url: `nats://127.0.0.1:${port}`,
		async stop() {
			await server.stop();
			await directory.remove();
		},
	};
}

/** Resolves once the server at `port` greets with its INFO line (the NATS protocol's first words). */
async function readInfoLine(port: number): Promise<void> {
	await new Promise<void>((resolve, reject) => {
		const socket = createConnection({host: '127.0.0.1', port});
		socket.setTimeout(1000, () => socket.destroy(new Error('no INFO line within 1 s')));
		socket.once('data', data => {
			socket.destroy();
			if (data.toString('utf8').startsWith('INFO ')) {
				resolve();
			} else {
				reject(new Error('not a NATS server'));
			}
		});
		socket.once('error', reject);
	});
}
