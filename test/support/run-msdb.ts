/**
 * Runs the built `msdb` (build/bundle/msdb.js, what the package's bin runs) as a separate
 * process, as scripts and CI do: no TTY, so it takes the script path. `npm test` builds first.
 */
import {fileURLToPath} from 'node:url';
import {execa} from 'execa';

export const CLI_PATH = fileURLToPath(new URL('../../build/bundle/msdb.js', import.meta.url));

export type MsdbRun = {
	exitCode: number;
	stdout: string;
	stderr: string;
	/** stdout parsed as JSON when it is JSON, else undefined. */
	json: any;
};

/** Variables from the developer's shell that would point msdb at another server. */
const SCRUBBED = ['DATABASE_URL', 'REDIS_URL', 'PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGPASSWORD', 'PGHOSTADDR', 'PGSERVICE', 'MSDB_ENV', 'MSDB_ACTOR'];

export async function runMsdb(args: string[], options: {cwd: string; env?: Record<string, string | undefined>}): Promise<MsdbRun> {
	const env: Record<string, string | undefined> = {...process.env};
	for (const name of SCRUBBED) {
		delete env[name];
	}

	const result = await execa(process.execPath, [CLI_PATH, ...args], {
		cwd: options.cwd,
		env: {...env, ...options.env},
		extendEnv: false,
		reject: false,
		stdin: 'ignore',
	});
	let json: unknown;
	try {
		json = JSON.parse(result.stdout);
	} catch {
		json = undefined;
	}

	return {exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr, json};
}
