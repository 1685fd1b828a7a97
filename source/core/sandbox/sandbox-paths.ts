import {readFileSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

/** Where a working directory keeps its sandbox, relative to it. */
export const SANDBOX_DIRECTORY = path.join('.msdb', 'sandbox');

/** The layout of `<cwd>/.msdb/sandbox/`. Derived, never stored: the folder may be moved. */
export type SandboxPaths = {
	/** `<cwd>/.msdb/sandbox` */
	root: string;
	/** Which backend, ports, pids, started at. */
	stateFile: string;
	/** PGDATA (owned by the `postgres` OS user when msdb runs as root). */
	postgresData: string;
	/** redis-server's `--dir`: the append-only files and its pid file. */
	redisData: string;
	/** s3rver's storage: one folder per bucket. */
	s3Data: string;
	logs: string;
	postgresLog: string;
	redisLog: string;
	s3Log: string;
};

/** The sandbox paths of a working directory. */
export function sandboxPaths(cwd: string): SandboxPaths {
	const root = path.resolve(cwd, SANDBOX_DIRECTORY);
	const logs = path.join(root, 'logs');
	return {
		root,
		stateFile: path.join(root, 'state.json'),
		postgresData: path.join(root, 'postgres'),
		redisData: path.join(root, 'redis'),
		s3Data: path.join(root, 's3'),
		logs,
		postgresLog: path.join(logs, 'postgres.log'),
		redisLog: path.join(logs, 'redis.log'),
		s3Log: path.join(logs, 's3.log'),
	};
}

const PACKAGE_NAME = 'mister-smith-db';
let packageRoot: string | null | undefined;

/**
 * The folder of msdb's own package.json, found by walking up from this module. A path relative
 * to import.meta.url would not do: this code runs from source/core/sandbox/ (tests),
 * build/core/sandbox/ (the library) and build/bundle/ (the executable), at different depths.
 * Undefined when msdb's package.json cannot be found (then neither the S3 server script nor
 * docker-compose.yml can be).
 */
export function findPackageRoot(): string | undefined {
	if (packageRoot === undefined) {
		packageRoot = null;
		let directory = path.dirname(fileURLToPath(import.meta.url));
		for (;;) {
			try {
				const manifest = JSON.parse(readFileSync(path.join(directory, 'package.json'), 'utf8')) as {name?: unknown};
				if (manifest.name === PACKAGE_NAME) {
					packageRoot = directory;
					break;
				}
			} catch {
				// No (readable) package.json here: keep walking up.
			}

			const parent = path.dirname(directory);
			if (parent === directory) {
				break;
			}

			directory = parent;
		}
	}

	return packageRoot ?? undefined;
}
