import type {RedisClient} from '../redis/redis-client.js';

/** How many commands a Redis client has sent. */
export type CommandCounter = {readonly sent: number};

/**
 * Counts every command `client` sends from now on, the handshake's (AUTH, CLIENT SETNAME, the
 * ready check's INFO) included: the console reports its own load on the servers it watches, and
 * a count taken where every ioredis command passes (`sendCommand`) cannot drift from what the
 * code does the way a tally kept at each call site would. Only for a client the caller created
 * and owns.
 *
 * A command issued while disconnected passes `sendCommand` twice (queued, then replayed from
 * the offline queue on reconnect): it is counted once, by its Command object.
 */
export function countSentCommands(client: RedisClient): CommandCounter {
	const counter = {sent: 0};
	const seen = new WeakSet<object>();
	const target = client as unknown as {sendCommand: (command: unknown, ...rest: unknown[]) => unknown};
	const original = target.sendCommand.bind(client);
	target.sendCommand = (command: unknown, ...rest: unknown[]) => {
		if (typeof command === 'object' && command !== null && !seen.has(command)) {
			seen.add(command);
			counter.sent++;
		}

		return original(command, ...rest);
	};
	return counter;
}
