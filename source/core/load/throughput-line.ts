import {round, type MeterReading} from './load-meter.js';
import type {OperationKind} from './workload-mix.js';

/** What one live throughput line reports: rates over the window since the previous line. */
export type ThroughputWindow = {
	previous: MeterReading;
	current: MeterReading;
	/** Operations per second asked for (0: as fast as possible). */
	targetRate: number;
	/** Cache hit ratio over the window; undefined when the window had no agent read. */
	cacheHitRatio: number | undefined;
	inFlight: number;
	/** Dropped since the run started (a total: any drop is worth seeing at once). */
	dropped: number;
};

/** Short names, so the line fits a terminal. */
const SHORT: Record<OperationKind, string> = {
	'agent-read': 'read',
	'session-get': 'sess',
	'session-churn': 'churn',
	'task-enqueue': 'enq',
	'task-claim': 'claim',
	'message-insert': 'msg',
	'state-write': 'state',
};

/**
 * `512 ops/s (target 500) · read 256 sess 77 churn 25 enq 51 claim 50 msg 26 state 27 · errors 0/s
 * · cache hit 97.1% · in flight 3 · dropped 0`
 */
export function describeThroughput(window: ThroughputWindow): string {
	const seconds = Math.max(0.001, (window.current.at - window.previous.at) / 1000);
	const rate = (now: number, before: number) => round((now - before) / seconds);
	const perKind = [...window.current.byKind]
		.map(([kind, count]) => `${SHORT[kind]} ${formatRate(rate(count, window.previous.byKind.get(kind) ?? 0))}`)
		.join(' ');
	return [
		`${formatRate(rate(window.current.operations, window.previous.operations))} ops/s (target ${window.targetRate === 0 ? 'max' : window.targetRate})`,
		perKind,
		`errors ${formatRate(rate(window.current.errors, window.previous.errors))}/s`,
		`cache hit ${window.cacheHitRatio === undefined ? '-' : `${(window.cacheHitRatio * 100).toFixed(1)}%`}`,
		`in flight ${window.inFlight}`,
		`dropped ${window.dropped}`,
	].join(' · ');
}

function formatRate(value: number): string {
	return value >= 10 ? String(Math.round(value)) : String(value);
}
