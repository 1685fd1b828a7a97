import pg from 'pg';
import type {DatabaseConfig} from '../config/database-config.js';

/**
 * Asks the server to cancel what one of our sessions is running. A cancel has to arrive on a
 * second connection: the session itself is busy. Best effort; failing to cancel only means the
 * statement runs to its end (or its statement_timeout).
 */
export async function cancelBackend(config: DatabaseConfig, pid: number): Promise<void> {
	const client = new pg.Client({
		...(config.connectionString ? {connectionString: config.connectionString} : {}),
		application_name: 'msdb:cancel',
		connectionTimeoutMillis: 5000,
	});
	client.on('error', () => {});
	try {
		await client.connect();
		await client.query('SELECT pg_cancel_backend($1)', [pid]);
	} catch {
		// See above: nothing better to do.
	} finally {
		await client.end().catch(() => {});
	}
}

/** The server process id of a connected client (from the startup handshake). */
export function backendPid(client: pg.Client): number | undefined {
	const pid = (client as unknown as {processID?: unknown}).processID;
	return typeof pid === 'number' ? pid : undefined;
}
