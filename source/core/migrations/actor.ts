import os from 'node:os';

/**
 * Who is running msdb, as recorded in the ledger and history: `MSDB_ACTOR` when a pipeline
 * sets it (e.g. "deploy-bot (pipeline 4411)"), else `<os user>@<host>`.
 */
export function currentActor(env: NodeJS.ProcessEnv = process.env): string {
	if (env.MSDB_ACTOR && env.MSDB_ACTOR.trim() !== '') {
		return env.MSDB_ACTOR.trim();
	}

	let user = env.USER ?? env.LOGNAME ?? 'unknown';
	try {
		user = os.userInfo().username;
	} catch {
		// No passwd entry for this uid (common in containers): keep the environment's answer.
	}

	return `${user}@${os.hostname()}`;
}
