import {render} from 'ink-testing-library';
import {setTimeout as sleep} from 'node:timers/promises';
import {afterEach, describe, expect, it} from 'vitest';
import {z} from 'zod';
import {defineCommand} from '../source/cli/command-definition.js';
import {code, table, text} from '../source/cli/output-blocks.js';
import {ActionableError} from '../source/core/errors.js';
import {CommandScreen} from '../source/ui/command-screen.js';

const originalExitCode = process.exitCode;
afterEach(() => {
	process.exitCode = originalExitCode;
});

async function waitFor(check: () => boolean, timeoutMs = 2000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!check()) {
		if (Date.now() > deadline) {
			throw new Error('timed out waiting for the frame');
		}

		await sleep(10);
	}
}

describe('CommandScreen (the terminal face of a command)', () => {
	it('shows progress as events arrive, then the same blocks scripts get, and sets the exit code', async () => {
		let finish: () => void = () => {};
		const definition = defineCommand({
			path: ['migrate', 'validate'],
			description: 'test',
			options: z.object({}),
			async run(_input, context) {
				context.onEvent({type: 'plan', direction: 'up', migrations: [{version: 1, name: 'users'}], dryRun: false});
				await new Promise<void>(resolve => {
					finish = resolve;
				});
				return {
					exitCode: 3,
					json: {},
					human: [table(['VERSION', 'NAME'], [['1', 'users']]), code('-old\n+new'), text('1 problem(s) found', 'error')],
				};
			},
		});
		const {lastFrame, frames, unmount} = render(<CommandScreen definition={definition as never} options={{}} />);
		await waitFor(() => (lastFrame() ?? '').includes('apply 1 migration: 1_users'));
		expect(lastFrame()).toContain('msdb migrate validate…');
		finish();
		await waitFor(() => (lastFrame() ?? '').includes('1 problem(s) found'));
		const frame = lastFrame() ?? '';
		expect(frame).toMatch(/VERSION\s+NAME/);
		expect(frame).toMatch(/1\s+users/);
		expect(frame).toContain('+new');
		expect(frames.join('\n')).toContain('apply 1 migration: 1_users');
		expect(process.exitCode).toBe(3);
		unmount();
	});

	it('shows status lines as they come and a live reading in place of the spinner', async () => {
		let finish: () => void = () => {};
		const definition = defineCommand({
			path: ['load'],
			description: 'test',
			options: z.object({}),
			async run(_input, context) {
				context.onEvent({type: 'status', message: 'seeded 50 agents'});
				context.onEvent({type: 'status', message: '120 ops/s', live: true});
				context.onEvent({type: 'status', message: '340 ops/s', live: true});
				await new Promise<void>(resolve => {
					finish = resolve;
				});
				return {exitCode: 0, json: {}, human: [text('done')]};
			},
		});
		const {lastFrame, unmount} = render(<CommandScreen definition={definition as never} options={{}} />);
		await waitFor(() => (lastFrame() ?? '').includes('340 ops/s'));
		const frame = lastFrame() ?? '';
		expect(frame).toContain('seeded 50 agents');
		expect(frame).not.toContain('120 ops/s');
		finish();
		await waitFor(() => (lastFrame() ?? '').includes('done'));
		expect(lastFrame()).not.toContain('340 ops/s');
		unmount();
	});

	it('cancels the running command when the screen goes away (Ctrl-C unmounts the app)', async () => {
		let signal: AbortSignal | undefined;
		const definition = defineCommand({
			path: ['migrate', 'apply'],
			description: 'test',
			options: z.object({}),
			async run(_input, context) {
				signal = context.signal;
				await new Promise(resolve => {
					context.signal.addEventListener('abort', resolve);
				});
				throw new ActionableError('E_CANCELLED', 'Cancelled.');
			},
		});
		const {unmount} = render(<CommandScreen definition={definition as never} options={{}} />);
		await waitFor(() => signal !== undefined);
		expect(signal?.aborted).toBe(false);
		unmount();
		expect(signal?.aborted).toBe(true);
	});

	it('shows an error with its next step and code, redacted, and exits with its code', async () => {
		const definition = defineCommand({
			path: ['migrate', 'status'],
			description: 'test',
			options: z.object({}),
			async run() {
				throw new ActionableError('E_DATABASE_UNREACHABLE', 'Cannot connect to postgres://app:s3cr3t-pw@db:5432/app', {nextStep: 'Check DATABASE_URL.'});
			},
		});
		const {lastFrame, unmount} = render(<CommandScreen definition={definition as never} options={{}} />);
		await waitFor(() => (lastFrame() ?? '').includes('E_DATABASE_UNREACHABLE'));
		const frame = lastFrame() ?? '';
		expect(frame).toContain('postgres://app:***@db:5432/app');
		expect(frame).not.toContain('s3cr3t-pw');
		expect(frame).toContain('→ Check DATABASE_URL.');
		expect(process.exitCode).toBe(1);
		unmount();
	});
});
