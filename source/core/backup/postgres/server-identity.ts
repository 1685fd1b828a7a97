import type pg from 'pg';

/** What a manifest records about the server a dump came from. */
export type ServerIdentity = {
	/** `server_version`, as the server reports it: `15.20 (Debian 15.20-0+deb12u1)`. */
	version: string;
	/** `server_version_num`: 150020. */
	versionNum: number;
	/** pg_control_system().system_identifier: the cluster's identity, the same on its replicas. */
	systemIdentifier: string;
	database: string;
};

/**
 * Reads the server's identity. The system identifier tells a restore (and an operator) which
 * cluster a dump came from, whatever the host name was; a server that hides pg_control_system()
 * (some managed services) gets `unknown` rather than a failed backup.
 */
export async function readServerIdentity(client: pg.Client): Promise<ServerIdentity> {
	const {rows} = await client.query<{version: string; version_num: string; database: string}>(
		"SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS version_num, current_database() AS database",
	);
	const row = rows[0];
	let systemIdentifier = 'unknown';
	try {
		const control = await client.query<{id: string}>('SELECT system_identifier::text AS id FROM pg_control_system()');
		systemIdentifier = control.rows[0]?.id ?? 'unknown';
	} catch {
		// Permission denied or not available: see above.
	}

	return {version: row?.version ?? '', versionNum: Number(row?.version_num ?? 0), systemIdentifier, database: row?.database ?? ''};
}
