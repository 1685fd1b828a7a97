/**
 * The temp directory each locally started server (PostgreSQL, Redis, s3rver) keeps its files in.
 * One home for the rule they share: removed by `remove()`, or at process exit when nobody did,
 * so a crashed test run does not leave data directories piling up in /tmp.
 */
import {rmSync} from 'node:fs';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {registerExitCleanup} from './exit-cleanup.js';

/** A temp directory removed by `remove()`, or at process exit when nobody did. */
export type WorkDirectory = {
	readonly path: string;
	remove(): Promise<void>;
};

/** Creates an empty temp directory that is removed at process exit if `remove()` is never called. */
export async function createWorkDirectory(prefix: string): Promise<WorkDirectory> {
	const directory = await mkdtemp(path.join(tmpdir(), prefix));
	const unregister = registerExitCleanup(() => rmSync(directory, {recursive: true, force: true}));
	return {
		path: directory,
		remove: async () => {
			unregister();
			await rm(directory, {recursive: true, force: true});
		},
	};
}
