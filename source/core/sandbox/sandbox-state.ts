import {mkdir, readFile, rename, writeFile} from 'node:fs/promises';
import {ActionableError} from '../errors.js';
import type {SandboxPaths} from './sandbox-paths.js';

/** Where the sandbox's services run: processes started from local binaries, or `docker compose`. */
export type SandboxBackend = 'local' | 'docker';

export type SandboxServiceName = 'postgres' | 'redis' | 's3';

export const SANDBOX_SERVICES: readonly SandboxServiceName[] = ['postgres', 'redis', 's3'];

/** What `up` remembers about one service. */
export type SandboxServiceState = {
	/** The port last used; `up` tries it first, so URLs stay the same from run to run. */
	port: number;
	/**
	 * The process we started (redis-server, the s3rver process); checked against its command line
	 * before any signal is sent. PostgreSQL's is read from postmaster.pid instead.
	 */
	pid?: number;
};

/** `.msdb/sandbox/state.json`. */
export type SandboxState = {
	version: 1;
	backend: SandboxBackend;
	/** When `up` last started a service (ISO 8601). */
	startedAt: string;
	services: Partial<Record<SandboxServiceName, SandboxServiceState>>;
	/** The compose file used (Docker backend only), so `down` works on the same project. */
	composeFile?: string;
};

/** Reads the state file; undefined when there is none (the sandbox was never started here, or purged). */
export async function readSandboxState(paths: SandboxPaths): Promise<SandboxState | undefined> {
	let text: string;
	try {
		text = await readFile(paths.stateFile, 'utf8');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
			return undefined;
		}

		throw error;
	}

	let state: unknown;
	try {
		state = JSON.parse(text);
	} catch {
		state = undefined;
	}

	if (!isSandboxState(state)) {
		throw new ActionableError('E_CONFIG_INVALID', `${paths.stateFile} is not a sandbox state file msdb can read.`, {
			nextStep: `Stop any server still running from ${paths.root} (its pids are in the logs there), then delete ${paths.root} and run \`msdb sandbox up\` again.`,
			details: {stateFile: paths.stateFile},
		});
	}

	return state;
}

/** Writes the state file atomically (temp file + rename): a crash never leaves half a file. */
export async function writeSandboxState(paths: SandboxPaths, state: SandboxState): Promise<void> {
	await mkdir(paths.root, {recursive: true});
	const temporary = `${paths.stateFile}.${process.pid}.tmp`;
	await writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`);
	await rename(temporary, paths.stateFile);
}

function isSandboxState(value: unknown): value is SandboxState {
	if (!value || typeof value !== 'object') {
		return false;
	}

	const state = value as Partial<SandboxState>;
	return (
		state.version === 1 &&
		(state.backend === 'local' || state.backend === 'docker') &&
		typeof state.startedAt === 'string' &&
		Boolean(state.services) &&
		typeof state.services === 'object' &&
		Object.values(state.services).every(service => typeof service?.port === 'number')
	);
}
