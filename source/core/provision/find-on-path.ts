import path from 'node:path';
import {isExecutable} from './postgres-binaries.js';

/** The first executable `program` in the PATH of `env`, as an absolute path, or undefined. */
export async function findOnPath(program: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
	for (const directory of (env['PATH'] ?? '').split(path.delimiter).filter(Boolean)) {
		const candidate = path.resolve(directory, program);
		if (await isExecutable(candidate)) {
			return candidate;
		}
	}

	return undefined;
}
