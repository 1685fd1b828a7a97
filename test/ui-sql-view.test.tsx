import {render} from 'ink-testing-library';
import {setTimeout as sleep} from 'node:timers/promises';
import {describe, expect, it} from 'vitest';
import {SqlView} from '../source/ui/components/sql-view.js';

const sql = Array.from({length: 30}, (_, index) => `SELECT ${index + 1};`).join('\n');

async function press(stdin: {write: (data: string) => void}, key: string): Promise<void> {
	stdin.write(key);
	await sleep(20);
}

describe('SqlView', () => {
	it('shows a short file whole, with the file line numbers', async () => {
		const {lastFrame, unmount} = render(<SqlView sql={'CREATE TABLE t (\n\tid int\n);\n'} title="1_t.sql" height={10} />);
		await sleep(20);
		// Tabs become spaces: Ink would measure a tab as one column.
		expect(lastFrame()).toBe(['1_t.sql', '1 │ CREATE TABLE t (', '2 │     id int', '3 │ );'].join('\n'));
		unmount();
	});

	it('previews a long file: its first lines and "… N more lines", within the height', async () => {
		const {lastFrame, stdin, unmount} = render(<SqlView sql={sql} title="big.sql" height={6} />);
		await sleep(20);
		expect(lastFrame()).toBe(['big.sql', ' 1 │ SELECT 1;', ' 2 │ SELECT 2;', ' 3 │ SELECT 3;', ' 4 │ SELECT 4;', '… 26 more lines'].join('\n'));
		// A preview does not scroll: the keys belong to the list beside it.
		await press(stdin, 'j');
		expect(lastFrame()).toContain(' 1 │ SELECT 1;');
		unmount();
	});

	it('scrolls when scrollable: lines, pages, the ends; never taller than its height', async () => {
		const {lastFrame, stdin, unmount} = render(<SqlView sql={sql} title="big.sql" height={7} scrollable />);
		await sleep(20);
		expect(lastFrame()).toContain('big.sql  (lines 1–5 of 30)');
		await press(stdin, 'j');
		expect((lastFrame() ?? '').split('\n')).toEqual(['big.sql  (lines 2–5 of 30)', '… 1 line above', ' 2 │ SELECT 2;', ' 3 │ SELECT 3;', ' 4 │ SELECT 4;', ' 5 │ SELECT 5;', '… 25 more lines']);
		await press(stdin, ' ');
		expect(lastFrame()).toContain(' 6 │ SELECT 6;');
		await press(stdin, 'G');
		const end = (lastFrame() ?? '').split('\n');
		expect(end).toHaveLength(6);
		expect(end.at(-1)).toBe('30 │ SELECT 30;');
		await press(stdin, 'b');
		await press(stdin, 'g');
		expect(lastFrame()).toContain(' 1 │ SELECT 1;');
		expect((lastFrame() ?? '').split('\n').length).toBeLessThanOrEqual(7);
		unmount();
	});
});
