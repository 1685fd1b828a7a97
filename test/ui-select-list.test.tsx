import {render} from 'ink-testing-library';
import {setTimeout as sleep} from 'node:timers/promises';
import {describe, expect, it, vi} from 'vitest';
import {SelectList, visibleWindow, type SelectListItem} from '../source/ui/components/select-list.js';
import {keys} from './support/flow-harness.js';

const items: Array<SelectListItem<number>> = Array.from({length: 20}, (_, index) => ({key: String(index), label: `item ${index + 1}`, value: index + 1}));

async function press(stdin: {write: (data: string) => void}, key: string): Promise<void> {
	stdin.write(key);
	await sleep(20);
}

describe('SelectList', () => {
	it('draws only `height` lines, with markers for the rows above and below', async () => {
		const {lastFrame, stdin, unmount} = render(<SelectList items={items} height={5} />);
		await sleep(20);
		expect(lastFrame()).toBe(['❯ item 1', '  item 2', '  item 3', '  item 4', '  ↓ 16 more'].join('\n'));
		for (let step = 0; step < 10; step++) {
			await press(stdin, 'j');
		}

		const middle = (lastFrame() ?? '').split('\n');
		expect(middle).toHaveLength(5);
		expect(middle[0]).toBe('  ↑ 9 more');
		expect(middle).toContain('❯ item 11');
		expect(middle[4]).toMatch(/↓ \d+ more/);
		await press(stdin, 'G');
		expect((lastFrame() ?? '').split('\n')).toEqual(['  ↑ 16 more', '  item 17', '  item 18', '  item 19', '❯ item 20']);
		await press(stdin, 'g');
		expect(lastFrame()).toContain('❯ item 1\n');
		unmount();
	});

	it('moves with arrows and j/k, pages with pgup/pgdn, stops at the ends, reports the highlight and selects with enter', async () => {
		const onSelect = vi.fn();
		const onHighlight = vi.fn();
		const {lastFrame, stdin, unmount} = render(<SelectList items={items} height={6} onSelect={onSelect} onHighlight={onHighlight} />);
		await sleep(20);
		expect(onHighlight).toHaveBeenLastCalledWith(items[0], 0);
		await press(stdin, 'k');
		expect(lastFrame()).toContain('❯ item 1\n');
		await press(stdin, keys.down);
		await press(stdin, 'j');
		expect(lastFrame()).toContain('❯ item 3');
		await press(stdin, keys.up);
		expect(lastFrame()).toContain('❯ item 2');
		expect(onHighlight).toHaveBeenLastCalledWith(items[1], 1);
		await press(stdin, '\u001B[6~');
		expect(lastFrame()).toContain('❯ item 6');
		await press(stdin, '\u001B[5~');
		expect(lastFrame()).toContain('❯ item 2');
		await press(stdin, keys.enter);
		expect(onSelect).toHaveBeenCalledWith(items[1], 1);
		unmount();
	});

	it('ignores keys while inactive and shows hints beside labels', async () => {
		const onSelect = vi.fn();
		const {lastFrame, stdin, unmount} = render(
			<SelectList items={[{key: 'a', label: '3_add_index', value: 3, hint: 'no transaction'}]} height={4} onSelect={onSelect} isActive={false} />,
		);
		await sleep(20);
		expect(lastFrame()).toBe('❯ 3_add_index  no transaction');
		await press(stdin, keys.enter);
		expect(onSelect).not.toHaveBeenCalled();
		unmount();
	});

	it('keeps the window within the height, including the markers', () => {
		for (let length = 1; length < 30; length++) {
			for (let height = 3; height < 12; height++) {
				for (let current = 0; current < length; current++) {
					const {start, end} = visibleWindow(current, length, height);
					const lines = end - start + (start > 0 ? 1 : 0) + (end < length ? 1 : 0);
					expect(lines).toBeLessThanOrEqual(height);
					expect(current).toBeGreaterThanOrEqual(start);
					expect(current).toBeLessThan(end);
				}
			}
		}
	});
});
