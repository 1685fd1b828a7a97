/**
 * How msdb finds and runs pg_dump / pg_restore: the search (with coreutils' stdbuf when it works),
 * the command line a dump runs with, and runPgTool's outcomes — exit codes, signals, a program
 * that cannot start, cancellation and kill() — with real processes. The dumps themselves are in
 * backup-postgres.test.ts.
 */
import {existsSync} from 'node:fs';
import {chmod, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {findPgTools, pgToolCommand} from '../source/core/backup/postgres/pg-tools.js';
import {runPgTool} from '../source/core/backup/postgres/run-pg-tool.js';
import {findOnPath} from '../source/core/provision/find-on-path.js';

let scratch: string;
beforeAll(async () => {
	scratch = await mkdtemp(path.join(tmpdir(), 'msdb-pg-tool-runs-'));
});
afterAll(async () => {
	await rm(scratch, {recursive: true, force: true});
});

async function script(name: string, body: string): Promise<string> {
	const directory = await mkdtemp(path.join(scratch, 'bin-'));
	const file = path.join(directory, name);
	await writeFile(file, `#!/bin/sh\n${body}\n`);
	await chmod(file, 0o755);
	return directory;
}

describe('finding pg_dump', () => {
	it('runs pg_dump through stdbuf when stdbuf works with it, and plainly without one', async () => {
		const stdbuf = await findOnPath('stdbuf');
		const [withStdbuf] = await findPgTools('pg_dump');
		expect(withStdbuf, 'pg_dump is installed on this machine').toBeDefined();
		if (stdbuf) {
			expect(withStdbuf!.stdbuf).toBe(stdbuf);
			expect(pgToolCommand(withStdbuf!, ['--format=custom'], {bufferedStdout: true})).toEqual({
				file: withStdbuf!.stdbuf,
				args: ['-o256K', withStdbuf!.path, '--format=custom'],
			});
		}

		// Only where a buffered stdout is asked for: pg_restore --list and friends run as they are.
		expect(pgToolCommand(withStdbuf!, ['--list'])).toEqual({file: withStdbuf!.path, args: ['--list']});

		// A PATH with pg_dump's own directory and no stdbuf: found all the same, run as it is.
		const [withoutStdbuf] = await findPgTools('pg_dump', {binDirectory: path.dirname(withStdbuf!.path), env: {PATH: path.dirname(withStdbuf!.path)}});
		expect(withoutStdbuf).toMatchObject({path: withStdbuf!.path, version: withStdbuf!.version});
		expect(withoutStdbuf!.stdbuf).toBeUndefined();
		expect(pgToolCommand(withoutStdbuf!, ['--format=custom'], {bufferedStdout: true})).toEqual({file: withStdbuf!.path, args: ['--format=custom']});
	});

	it('falls back to running pg_dump plainly when stdbuf is there but cannot run it', async () => {
		const [real] = await findPgTools('pg_dump');
		// A stdbuf like one whose LD_PRELOAD library is missing: it refuses every program.
		const brokenStdbuf = await script('stdbuf', 'echo "stdbuf: failed to find libstdbuf.so" >&2; exit 125');
		const [tool] = await findPgTools('pg_dump', {binDirectory: path.dirname(real!.path), env: {PATH: `${brokenStdbuf}${path.delimiter}${path.dirname(real!.path)}`}});
		expect(tool).toMatchObject({path: real!.path, version: real!.version});
		expect(tool!.stdbuf).toBeUndefined();
	});
});

describe('runPgTool', () => {
	const run = (program: string, args: string[], signal?: AbortSignal) =>
		runPgTool(program, args, {env: {PATH: process.env['PATH'] ?? ''}, stdin: 'ignore', stdout: 'pipe', signal});

	it('streams stdout and reports success, or the exit code with the tail of stderr', async () => {
		const directory = await script('talker', 'echo out-$1; echo "err-$1" >&2; exit "$1"');
		const succeeded = run(path.join(directory, 'talker'), ['0']);
		const chunks: Buffer[] = [];
		for await (const chunk of succeeded.stdout!) {
			chunks.push(chunk as Buffer);
		}

		expect(Buffer.concat(chunks).toString()).toBe('out-0\n');
		expect(await succeeded.finished).toEqual({ok: true, description: 'exit code 0', stderr: 'err-0', cancelled: false});

		const failed = run(path.join(directory, 'talker'), ['3']);
		failed.stdout!.resume();
		expect(await failed.finished).toEqual({ok: false, description: 'exit code 3', stderr: 'err-3', cancelled: false});
	});

	it('reports a program that cannot be started instead of throwing', async () => {
		const missing = run(path.join(scratch, 'no-such-pg_dump'), []);
		const outcome = await missing.finished;
		expect(outcome.ok).toBe(false);
		expect(outcome.cancelled).toBe(false);
		expect(outcome.description).toMatch(/^could not be started \(.*ENOENT\)$/);
		missing.kill();
	});

	it('kill() ends the program with SIGTERM, and SIGKILL is not needed when it obeys', async () => {
		const sleeper = run('sleep', ['30']);
		sleeper.stdout!.resume();
		sleeper.kill();
		sleeper.kill();
		// SIGTERM, not the SIGKILL that follows after the grace period: sleep obeys at once.
		expect(await sleeper.finished).toMatchObject({ok: false, description: 'signal SIGTERM', cancelled: false});
	});

	it('the abort signal cancels a running program, and one aborted before the start never runs', async () => {
		const controller = new AbortController();
		const sleeper = run('sleep', ['30'], controller.signal);
		sleeper.stdout!.resume();
		controller.abort();
		expect(await sleeper.finished).toMatchObject({ok: false, description: 'cancelled', cancelled: true});

		const marker = path.join(scratch, 'ran');
		const directory = await script('marker', `sleep 1; touch ${marker}`);
		const late = run(path.join(directory, 'marker'), [], AbortSignal.abort());
		late.stdout!.resume();
		expect(await late.finished).toMatchObject({ok: false, cancelled: true});
		expect(existsSync(marker)).toBe(false);
	});
});
