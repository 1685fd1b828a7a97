import {render} from 'ink-testing-library';
import {setTimeout as sleep} from 'node:timers/promises';
import {describe, expect, it, vi} from 'vitest';
import {TypedConfirmation} from '../source/ui/components/typed-confirmation.js';

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!check()) {
		if (Date.now() > deadline) {
			throw new Error('timed out waiting for the frame');
		}

		await sleep(10);
	}
}

/** Types one key at a time, waiting for Ink to handle each (ink-testing-library #29). */
async function type(stdin: {write: (data: string) => void}, text: string): Promise<void> {
	for (const character of text) {
		stdin.write(character);
		await sleep(15);
	}
}

function setup() {
	const onConfirm = vi.fn();
	const onCancel = vi.fn();
	const view = render(<TypedConfirmation expected="app_prod" prompt="This drops every table." onConfirm={onConfirm} onCancel={onCancel} />);
	return {...view, onConfirm, onCancel, frame: () => view.lastFrame() ?? ''};
}

describe('TypedConfirmation', () => {
	it('shows the prompt, the text to type, what was typed and its keys', async () => {
		const {frame, stdin, unmount} = setup();
		await waitFor(() => frame().includes('This drops every table.'));
		expect(frame()).toContain('Type app_prod and press enter');
		expect(frame()).toMatch(/enter\s+confirm/);
		expect(frame()).toMatch(/esc\s+cancel/);
		await sleep(20);
		await type(stdin, 'app_');
		await waitFor(() => frame().includes('> app_'));
		unmount();
	});

	it('confirms only on the exact text followed by enter', async () => {
		const {frame, stdin, onConfirm, onCancel, unmount} = setup();
		await sleep(20);
		await type(stdin, 'app_prod');
		await waitFor(() => frame().includes('> app_prod'));
		expect(onConfirm).not.toHaveBeenCalled();
		stdin.write('\r');
		await waitFor(() => onConfirm.mock.calls.length === 1);
		// A second enter while the parent switches screens must not confirm twice.
		stdin.write('\r');
		await sleep(30);
		expect(onConfirm).toHaveBeenCalledTimes(1);
		expect(onCancel).not.toHaveBeenCalled();
		unmount();
	});

	it('refuses a partial, longer or differently cased text and says nothing was done', async () => {
		const {frame, stdin, onConfirm, unmount} = setup();
		await sleep(20);
		for (const attempt of ['app_pro', 'app_prodx', 'APP_PROD']) {
			await type(stdin, attempt);
			stdin.write('\r');
			await waitFor(() => frame().includes(`“${attempt}” does not match “app_prod”: nothing was done`));
			for (let index = 0; index < attempt.length; index++) {
				stdin.write('\u007F');
				await sleep(10);
			}

			await waitFor(() => !frame().includes('does not match'));
		}

		stdin.write('\r');
		await waitFor(() => frame().includes('“” does not match'));
		expect(onConfirm).not.toHaveBeenCalled();
		unmount();
	});

	it('lets backspace correct a typo, then confirms', async () => {
		const {frame, stdin, onConfirm, unmount} = setup();
		await sleep(20);
		await type(stdin, 'app_prox');
		stdin.write('\u007F');
		await sleep(15);
		await type(stdin, 'd');
		await waitFor(() => frame().includes('> app_prod'));
		stdin.write('\r');
		await waitFor(() => onConfirm.mock.calls.length === 1);
		unmount();
	});

	it('accepts a pasted name in one write', async () => {
		const {stdin, onConfirm, unmount} = setup();
		await sleep(20);
		stdin.write('app_prod');
		await sleep(20);
		stdin.write('\r');
		await waitFor(() => onConfirm.mock.calls.length === 1);
		unmount();
	});

	it('esc cancels, even with the right text typed', async () => {
		const {stdin, onConfirm, onCancel, unmount} = setup();
		await sleep(20);
		await type(stdin, 'app_prod');
		stdin.write('\u001B');
		await waitFor(() => onCancel.mock.calls.length === 1);
		expect(onConfirm).not.toHaveBeenCalled();
		unmount();
	});
});
