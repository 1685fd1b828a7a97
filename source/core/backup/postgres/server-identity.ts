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
	type Row = {version: string; version_num: string; database: string; system_identifier?: string};
	const settings = "current_setting('server_version') AS version, current_setting('server_version_num') AS version_num, current_database() AS database";
	let row: Row | undefined;
	try {
		// One round trip where the user may read the control file (a backup waits for this).
		row = (await client.query<Row>(`SELECT ${settings}, (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier`)).rows[0];
	} catch {
		// Permission denied or not available: see above.
		row = (await client.query<Row>(`SELECT ${settings}`)).rows[0];
	}

	return {version: row?.version ?? '', versionNum: Number(row?.version_num ?? 0), systemIdentifier: row?.system_identifier ?? 'unknown', database: row?.database ?? ''};
}
