import {describe, expect, it} from 'vitest';
import {reconnectBackoff} from '../source/core/redis/reconnect-backoff.js';

describe('reconnect backoff', () => {
	it('doubles from the base up to the cap, never gives up', () => {
		const highest = reconnectBackoff({baseMs: 50, maxMs: 2000, random: () => 0.999_999});
		expect([1, 2, 3, 4, 5, 6, 7, 8, 1000].map(attempt => highest(attempt))).toEqual([50, 100, 200, 400, 800, 1600, 2000, 2000, 2000]);
	});

	it('jitters within the upper half of each step, so clients that lost the same server spread out', () => {
		const lowest = reconnectBackoff({baseMs: 50, maxMs: 2000, random: () => 0});
		expect([1, 2, 3, 7].map(attempt => lowest(attempt))).toEqual([25, 50, 100, 1000]);
		const real = reconnectBackoff({baseMs: 50, maxMs: 2000});
		const delays = Array.from({length: 200}, () => real(10));
		expect(Math.min(...delays)).toBeGreaterThanOrEqual(1000);
		expect(Math.max(...delays)).toBeLessThanOrEqual(2000);
		expect(new Set(delays).size).toBeGreaterThan(20);
	});
});
