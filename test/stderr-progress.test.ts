import {afterEach, describe, expect, it, vi} from 'vitest';
import {createStderrProgress} from '../source/cli/stderr-progress.js';

afterEach(() => {
	vi.useRealTimers();
});

describe('progress lines on stderr', () => {
	it('writes one line per fast migration, and announces a slow one while it runs', () => {
		vi.useFakeTimers();
		const lines: string[] = [];
		const report = createStderrProgress(text => lines.push(text));
		report({type: 'plan', direction: 'up', migrations: [{version: 1, name: 'fast'}, {version: 2, name: 'slow'}], dryRun: false});
		report({type: 'migration:start', direction: 'up', version: 1, name: 'fast', noTransaction: false, index: 0, count: 2});
		report({type: 'migration:done', direction: 'up', version: 1, name: 'fast', executionTimeMs: 3});
		report({type: 'migration:start', direction: 'up', version: 2, name: 'slow', noTransaction: false, index: 1, count: 2});
		expect(lines).toEqual(['msdb: apply 2 migrations: 1_fast, 2_slow\n', 'msdb: [1/2] applied 1_fast in 3 ms\n']);
		vi.advanceTimersByTime(1500);
		expect(lines.at(-1)).toBe('msdb: [2/2] applying 2_slow… (still running)\n');
		report({type: 'migration:done', direction: 'up', version: 2, name: 'slow', executionTimeMs: 1600});
		expect(lines.at(-1)).toBe('msdb: [2/2] applied 2_slow in 1.60 s\n');
	});

	it('names the ends of a long plan instead of every migration', () => {
		const lines: string[] = [];
		const report = createStderrProgress(text => lines.push(text));
		const migrations = Array.from({length: 400}, (_, index) => ({version: index + 1, name: `t${index + 1}`}));
		report({type: 'plan', direction: 'up', migrations, dryRun: false});
		expect(lines).toEqual(['msdb: apply 400 migrations: 1_t1, 2_t2, 3_t3 … 398_t398, 399_t399, 400_t400\n']);
	});

	it('masks secrets in progress lines', () => {
		const lines: string[] = [];
		const report = createStderrProgress(text => lines.push(text));
		report({type: 'lock:waiting', holder: 'pid 7, postgres://app:hunter2@db/x'});
		expect(lines[0]).toContain('postgres://app:***@db/x');
		expect(lines[0]).not.toContain('hunter2');
	});
});

describe('backup progress lines on stderr', () => {
	it('prints an artifact line at most every 2 s, with bytes, total, rate and ETA, and always the end', () => {
		vi.useFakeTimers({toFake: ['performance', 'setTimeout']});
		vi.advanceTimersByTime(10_000);
		const lines: string[] = [];
		const report = createStderrProgress(text => lines.push(text));
		const progress = (bytes: number) =>
			report({type: 'artifact:progress', component: 'postgres', key: 'b1/postgres.dump', operation: 'upload', bytes, totalBytes: 4 * 1024 * 1024, bytesPerSecond: 1024 * 1024, etaSeconds: (4 * 1024 * 1024 - bytes) / (1024 * 1024)});
		report({type: 'artifact:start', component: 'postgres', key: 'b1/postgres.dump', operation: 'upload', totalBytes: 4 * 1024 * 1024});
		progress(512 * 1024);
		vi.advanceTimersByTime(500);
		progress(1024 * 1024);
		vi.advanceTimersByTime(2000);
		progress(3 * 1024 * 1024);
		report({type: 'artifact:done', component: 'postgres', key: 'b1/postgres.dump', operation: 'upload', bytes: 4 * 1024 * 1024, elapsedMs: 4000, sha256: 'ab'.repeat(32)});
		expect(lines).toEqual([
			'msdb: upload b1/postgres.dump (4.00 MiB)…\n',
			'msdb:   b1/postgres.dump: 512 KiB of 4.00 MiB at 1.00 MiB/s, 4 s left\n',
			'msdb:   b1/postgres.dump: 3.00 MiB of 4.00 MiB at 1.00 MiB/s, 1 s left\n',
			'msdb:   b1/postgres.dump: 4.00 MiB in 4.00 s (sha256 abababababab…)\n',
		]);
	});
});
