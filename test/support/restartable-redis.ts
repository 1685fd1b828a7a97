/**
 * A private redis-server a test can crash and bring back, for outage tests: `kill()` is a
 * SIGKILL (clients see the connection drop, nothing is saved), `restart()` starts it again on the
 * same port in the same empty directory, so clients configured with `url` reconnect by themselves.
 *
 * Always a local process (a shared server cannot be killed); needs redis-server on PATH.
 */
import {startLocalRedis} from '../../source/core/provision/index.js';

export type RestartableRedis = {
	/** `redis://127.0.0.1:<port>` */
	url: string;
	port: number;
	/** SIGKILL, as in a crash. */
	kill(): Promise<void>;
	/** Same port, same (empty) directory; kills the running server first if there is one. */
	restart(): Promise<void>;
	/** Shuts it down for good and removes its directory. Idempotent. */
	stop(): Promise<void>;
};

/** Starts a private redis-server that the test owns and may kill. */
export async function startRestartableRedis(): Promise<RestartableRedis> {
	const server = await startLocalRedis();
	return {
		url: server.url,
		port: server.port,
		kill: server.kill,
		restart: server.restart,
		stop: server.stop,
	};
}
