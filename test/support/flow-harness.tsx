/**
 * Drives a console flow (FlowProps) with ink-testing-library the way a person would: render it
 * with a context for a test database and migration folder, wait for frames, press keys.
 */
import {render} from 'ink-testing-library';
import {setTimeout as sleep} from 'node:timers/promises';
import type {ComponentType} from 'react';
import {vi, type Mock} from 'vitest';
import {resolveDatabaseConfig} from '../../source/core/config/database-config.js';
import type {FlowContext, FlowOutcome, FlowProps} from '../../source/ui/flows/flow-context.js';
import type {MigrationProject} from './migration-project.js';

export const keys = {
	enter: '\r',
	escape: '\u001B',
	up: '\u001B[A',
	down: '\u001B[B',
	backspace: '\u007F',
} as const;

export function flowContext(databaseUrl: string, overrides: Partial<FlowContext> = {}): FlowContext {
	return {
		database: resolveDatabaseConfig(databaseUrl, {}),
		redisUrl: undefined,
		migrationsDir: 'migrations',
		rollbacksDir: 'rollbacks',
		backupTarget: undefined,
		env: {MSDB_ACTOR: 'ui-flow-test'},
		readonly: false,
		...overrides,
	};
}

/** The context of a flow run on `project`'s migration folders against the database at `databaseUrl`. */
export function migrationFlowContext(databaseUrl: string, project: MigrationProject, overrides: Partial<FlowContext> = {}): FlowContext {
	return flowContext(databaseUrl, {migrationsDir: project.migrationsDir, rollbacksDir: project.rollbacksDir, ...overrides});
}

/** A rendered flow and the means to drive it. */
export type FlowHarness = {
	onExit: Mock<(outcome: FlowOutcome) => void>;
	/** The last frame drawn. */
	frame: () => string;
	/** Every frame so far, joined: for states that passed by quickly. */
	allFrames: () => string;
	waitForFrame: (expected: string | RegExp, timeoutMs?: number) => Promise<string>;
	/** Resolves with the outcome of the first (and only) onExit call. */
	waitForExit: (timeoutMs?: number) => Promise<FlowOutcome>;
	press: (key: string) => Promise<void>;
	type: (text: string) => Promise<void>;
	unmount: () => void;
};

/** How a flow is rendered and waited for. */
export type FlowHarnessOptions = {
	width?: number;
	height?: number;
	/** Default wait of waitForFrame and waitForExit (15 s); flows that back up or restore real data need longer. */
	timeoutMs?: number;
};

export function renderFlow(Flow: ComponentType<FlowProps>, context: FlowContext, options: FlowHarnessOptions = {}): FlowHarness {
	const onExit = vi.fn<(outcome: FlowOutcome) => void>();
	const view = render(<Flow context={context} onExit={onExit} width={options.width ?? 100} height={options.height ?? 30} />);
	const defaultTimeoutMs = options.timeoutMs ?? 15_000;
	const frame = () => view.lastFrame() ?? '';
	const allFrames = () => view.frames.join('\n');

	/** Waits until the last frame matches; the error shows the frame, which is what you need to see. */
	async function waitForFrame(expected: string | RegExp, timeoutMs = defaultTimeoutMs): Promise<string> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const current = frame();
			if (typeof expected === 'string' ? current.includes(expected) : expected.test(current)) {
				// The frame is drawn before React runs the new screen's effects, and Ink attaches key
				// handlers in effects: a key sent at once would reach the previous screen's handler.
				await sleep(30);
				return current;
			}

			if (Date.now() > deadline) {
				throw new Error(`timed out waiting for ${String(expected)} in the frame:\n${current}`);
			}

			await sleep(10);
		}
	}

	async function waitForExit(timeoutMs = defaultTimeoutMs): Promise<FlowOutcome> {
		const deadline = Date.now() + timeoutMs;
		while (onExit.mock.calls.length === 0) {
			if (Date.now() > deadline) {
				throw new Error(`timed out waiting for onExit; the frame:\n${frame()}`);
			}

			await sleep(10);
		}

		return onExit.mock.calls[0]![0];
	}

	/** One key, then a pause so Ink handles it before the next (ink-testing-library #29). */
	async function press(key: string): Promise<void> {
		view.stdin.write(key);
		await sleep(40);
	}

	async function type(text: string): Promise<void> {
		for (const character of text) {
			await press(character);
		}
	}

	return {onExit, frame, allFrames, waitForFrame, waitForExit, press, type, unmount: view.unmount};
}
