/**
 * The console with ink-testing-library. Panels are rendered from snapshots built here (each with
 * its data and its error state); the keys are pressed on a ConsoleApp fed by a real
 * DashboardModel over a fresh database and a private Redis, and on a feed of fixed snapshots
 * where a figure must be exact.
 */
import {Text, useInput} from 'ink';
import {render} from 'ink-testing-library';
import {randomBytes} from 'node:crypto';
import {setTimeout as sleep} from 'node:timers/promises';
import {fileURLToPath} from 'node:url';
import {execa} from 'execa';
import {afterEach, describe, expect, it, vi} from 'vitest';
import {resolveDatabaseConfig} from '../source/core/config/database-config.js';
import type {DashboardFeed, DashboardListener, DashboardSnapshot} from '../source/core/console/dashboard-snapshot.js';
import {CacheHitRateTracker} from '../source/core/console/cache-hit-rates.js';
import {openDashboard} from '../source/core/console/open-dashboard.js';
import {fleetTotals} from '../source/core/fleet/fleet-reader.js';
import type {HeartbeatSnapshot} from '../source/core/fleet/heartbeat-snapshot.js';
import {emptyConnectionStates, type PostgresSample} from '../source/core/sampler/postgres-sample.js';
import type {RedisSample} from '../source/core/sampler/redis-sample.js';
import {Gauge, gaugeBar, gaugeTone} from '../source/ui/components/gauge.js';
import type {FlowContext, FlowProps} from '../source/ui/flows/flow-context.js';
import {BackupsPanel} from '../source/ui/console/backups-panel.js';
import {CachePanel} from '../source/ui/console/cache-panel.js';
import {ConsoleApp} from '../source/ui/console/console-app.js';
import {consoleLayout, footerLines} from '../source/ui/console/console-layout.js';
import {FLOWS, offeredFlows, type FlowEntry} from '../source/ui/console/flow-registry.js';
import {MigrationsPanel} from '../source/ui/console/migrations-panel.js';
import {PostgresPanel} from '../source/ui/console/postgres-panel.js';
import {RedisPanel} from '../source/ui/console/redis-panel.js';
import {CLI_PATH} from './support/run-msdb.js';
import {useTestDatabase} from './support/test-database.js';
import {useTestRedis} from './support/test-redis.js';

const NOW = new Date('2025-06-01T12:00:00.000Z');
const REPO_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
const REPO_ROLLBACKS = fileURLToPath(new URL('../rollbacks', import.meta.url));
const keys = {tab: '\t', shiftTab: '\u001B[Z', escape: '\u001B', down: '\u001B[B', up: '\u001B[A'} as const;

// --- snapshots built by hand -----------------------------------------------------------------

function postgresSample(overrides: Partial<PostgresSample> = {}): PostgresSample {
	const application = (applicationName: string, idle: number, active: number) => ({...emptyConnectionStates(), applicationName, idle, active, total: idle + active});
	const applications = [application('msdb:primary', 12, 3), application('psql', 2, 0), ...Array.from({length: 10}, (_, index) => application(`worker-${index}`, 1, 0))];
	return {
		sampledAt: NOW,
		serverVersion: '16.4',
		samplerPid: 1,
		connections: {...emptyConnectionStates(), active: 3, idle: 24, idleInTransaction: 1, total: 28},
		maxConnections: 100,
		reservedConnections: 3,
		applications,
		transactions: {commitsPerSecond: 1234.5, rollbacksPerSecond: 0, commits: 2469, rollbacks: 0, intervalMs: 2000},
		bufferCache: {ratio: 0.9923, window: 'interval'},
		longestQuery: {pid: 77, applicationName: 'psql', database: 'app', state: 'active', durationMs: 3200, query: 'SELECT count(*) FROM agents.agents WHERE status = $1 AND updated_at > now() - interval \'1 day\''},
		lockWaits: {count: 2, sessions: [{pid: 80, applicationName: 'psql', database: 'app', waitEvent: 'transactionid', blockedBy: [77], durationMs: 1500, query: 'UPDATE x'}]},
		replication: {inRecovery: false, replicas: [{applicationName: 'replica1', clientAddress: '10.0.0.2', state: 'streaming', syncState: 'async', replayLagMs: 12, replayLagBytes: 100}], replayLagMs: null, replayLagBytes: null},
		counters: {serverTimeMs: NOW.getTime(), databases: {}},
		...overrides,
	};
}

function redisSample(overrides: Partial<RedisSample> = {}): RedisSample {
	return {
		sampledAt: NOW,
		version: '7.2.4',
		role: 'master',
		uptimeSeconds: 3 * 86_400,
		nodes: 1,
		clients: {connected: 45, max: 100, blocked: 0},
		memory: {usedBytes: 800 * 1024 * 1024, maxBytes: 1024 * 1024 * 1024, policy: 'allkeys-lru'},
		ops: {perSecond: 5300, window: 'interval', commands: 10_600, intervalMs: 2000},
		keyspace: {rate: 0.981, window: 'interval', hits: 981, misses: 19},
		evictions: {total: 1200, perSecond: 3},
		persistence: {lastSaveAt: new Date(NOW.getTime() - 5 * 60_000), changesSinceLastSave: 10, lastBgsaveStatus: 'ok', bgsaveInProgress: false},
		counters: {},
		...overrides,
	};
}

function heartbeat(instanceId: string, breaker: 'closed' | 'open' | 'half-open'): HeartbeatSnapshot {
	return {
		format: 1,
		instanceId,
		service: 'agent-runtime',
		host: 'h',
		pid: 1,
		version: '0.1.0',
		startedAt: NOW.toISOString(),
		publishedAt: NOW.toISOString(),
		intervalMs: 5000,
		pools: [{role: 'primary', max: 20, total: 15, idle: 12, waiting: 0, acquisitions: 1, acquireErrors: 0, acquireMsSum: 1, queries: 1, queryErrors: 0, queryMsSum: 1}],
		caches: [
			{namespace: 'agents', l1: {hits: 90, misses: 10, entries: 5, bytes: 50}, l2: {hits: 6, misses: 4, unavailable: 0, breaker}, l3: {loads: 4, loadErrors: 0}},
			{namespace: 'sessions', l1: {hits: 10, misses: 30, entries: 5, bytes: 50}, l2: {hits: 20, misses: 10, unavailable: 0, breaker: 'closed'}, l3: {loads: 100, loadErrors: 10}},
		],
		redis: [],
	};
}

/** The fleet as the model hands it over: `earlier` readings first (none: rates since start). */
function fleetOf(instances: HeartbeatSnapshot[], ...earlier: HeartbeatSnapshot[][]): NonNullable<DashboardSnapshot['fleet']> {
	const tracker = new CacheHitRateTracker();
	const reading = (list: HeartbeatSnapshot[]) => ({env: 'prod', instances: list, totals: fleetTotals(list), skipped: 0, readAt: NOW.toISOString()});
	for (const list of earlier) {
		tracker.update(reading(list));
	}

	const current = reading(instances);
	return {...current, cacheRates: tracker.update(current)};
}

function fullSnapshot(overrides: Partial<DashboardSnapshot> = {}): DashboardSnapshot {
	const instances = [heartbeat('a', 'closed'), heartbeat('b', 'open')];
	return {
		header: {
			environment: 'prod',
			postgres: {display: 'postgres://app:***@db.internal:5432/agents', host: 'db.internal:5432', database: 'agents', version: '16.4'},
			redis: {display: 'redis://cache:6379', mode: 'standalone', version: '7.2.4'},
			backupTarget: 's3://backups/msdb',
		},
		postgres: postgresSample(),
		redis: redisSample(),
		fleet: fleetOf(instances),
		migrations: {
			statusKnown: true,
			current: 8,
			applied: 8,
			pending: [
				{version: 9, name: 'audit'},
				{version: 10, name: 'sessions_agent_index'},
				{version: 11, name: 'knowledge_search'},
			],
			validation: {ok: false, problems: [{version: 5, kind: 'checksum-mismatch', message: 'migration 5 was changed after it was applied'}]},
			drift: {ok: true, problems: [], snapshotTakenAt: NOW.toISOString()},
			errors: {},
		},
		backups: {
			target: 's3://backups/msdb',
			total: 12,
			recent: Array.from({length: 12}, (_, index) => ({
				id: `202506${String(1 + index).padStart(2, '0')}T030000Z-abc${String(index).padStart(3, '0')}`,
				finishedAt: new Date(NOW.getTime() - (index * 24 + 3) * 3_600_000).toISOString(),
				bytes: 5 * 1024 * 1024 * (index + 1),
				components: ['postgres', 'redis'],
				lastVerification: index === 0 ? {verifiedAt: NOW.toISOString(), ok: true, drill: true} : index === 1 ? {verifiedAt: NOW.toISOString(), ok: false, drill: false} : null,
			})),
			lastBackup: {id: '20250601T030000Z-abc000', finishedAt: new Date(NOW.getTime() - 3 * 3_600_000).toISOString()},
			lastVerifiedRestore: {backupId: '20250601T030000Z-abc000', verifiedAt: new Date(NOW.getTime() - 2 * 86_400_000).toISOString()},
			incomplete: 0,
			problems: 0,
		},
		errors: {},
		configured: {postgres: true, redis: true, fleet: true, migrations: true, backups: true},
		updatedAt: {postgres: new Date(NOW.getTime() - 1000), redis: NOW, fleet: NOW, migrations: new Date(NOW.getTime() - 12_000), backups: new Date(NOW.getTime() - 40_000)},
		intervalMs: 2000,
		paused: false,
		takenAt: NOW,
		...overrides,
	};
}

/** A feed of fixed snapshots whose controls act on the snapshot the way the model does. */
class FixedFeed implements DashboardFeed {
	latest: DashboardSnapshot;
	readonly refreshes = vi.fn();
	readonly #listeners = new Set<DashboardListener>();

	constructor(snapshot: DashboardSnapshot) {
		this.latest = snapshot;
	}

	subscribe(listener: DashboardListener): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	emit(patch: Partial<DashboardSnapshot>): void {
		this.latest = {...this.latest, ...patch};
		for (const listener of this.#listeners) {
			listener(this.latest);
		}
	}

	pause(): void {
		this.emit({paused: true});
	}

	resume(): void {
		this.emit({paused: false});
	}

	setInterval(intervalMs: number): void {
		this.emit({intervalMs});
	}

	refreshNow(): void {
		this.refreshes();
	}
}

function context(overrides: Partial<FlowContext> = {}): FlowContext {
	return {
		database: resolveDatabaseConfig('postgres://app@localhost:5432/agents', {}),
		redisUrl: undefined,
		migrationsDir: 'migrations',
		rollbacksDir: 'rollbacks',
		backupTarget: undefined,
		env: {},
		readonly: false,
		...overrides,
	};
}

// --- helpers ---------------------------------------------------------------------------------

async function waitFor(check: () => boolean, describe: () => string, timeoutMs = 10_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!check()) {
		if (Date.now() > deadline) {
			throw new Error(`timed out; the frame:\n${describe()}`);
		}

		await sleep(10);
	}
}

function renderApp(element: React.ReactElement) {
	const view = render(element);
	const frame = () => view.lastFrame() ?? '';
	return {
		...view,
		frame,
		async waitForFrame(expected: string | RegExp, timeoutMs?: number): Promise<string> {
			await waitFor(() => (typeof expected === 'string' ? frame().includes(expected) : expected.test(frame())), frame, timeoutMs);
			return frame();
		},
		async waitForGone(text: string): Promise<void> {
			await waitFor(() => !frame().includes(text), frame);
		},
		async press(input: string): Promise<void> {
			// Ink attaches its stdin listener in an effect: give it a tick before and after each key.
			await sleep(20);
			view.stdin.write(input);
			await sleep(20);
		},
	};
}

/** A frame's words without borders and line breaks: for text a narrow panel wraps. */
function words(frame: string): string {
	return frame.replace(/[│╭╮╰╯─]/g, ' ').replace(/\s+/g, ' ');
}

/** The footer: the last non-empty lines of the frame. */
function footerOf(frame: string): string {
	return frame.split('\n').filter(line => line.trim() !== '').slice(-2).join('\n');
}

const unmounts: Array<() => void> = [];
afterEach(() => {
	for (const unmount of unmounts.splice(0)) {
		unmount();
	}
});

// --- tests ------------------------------------------------------------------------------------

describe('Gauge', () => {
	it('draws a bar of the ratio, coloured by threshold, with the figures', () => {
		expect(gaugeBar(0.7, 10)).toEqual({filled: '███████', empty: '░░░'});
		expect(gaugeBar(0.001, 10).filled).toBe('█');
		expect(gaugeBar(2, 4)).toEqual({filled: '████', empty: ''});
		expect([gaugeTone(0.5), gaugeTone(0.75), gaugeTone(0.95)]).toEqual(['green', 'yellow', 'red']);
		const {lastFrame} = render(<Gauge value={70} max={100} width={22} />);
		expect(lastFrame()).toBe('███████░░░  70% 70/100');
	});

	it('shows only the figures when there is no room for a bar', () => {
		const {lastFrame} = render(<Gauge label="connections" value={5} max={10} width={20} />);
		expect(lastFrame()).toBe('connections 50% 5/10');
	});
});

describe('panels', () => {
	const panel = (element: React.ReactElement) => render(element).lastFrame() ?? '';
	const props = (snapshot: DashboardSnapshot, width = 40, height = 12) => ({snapshot, width, height, focused: false, scroll: 0});

	it('PostgreSQL: connections gauge, states, rates, longest query, waits, replica lag and a gauge per pool', () => {
		const frame = panel(<PostgresPanel {...props(fullSnapshot())} />);
		expect(frame).toContain('1 PostgreSQL');
		expect(frame).toContain('1 s ago');
		expect(frame).toMatch(/connections .*28% 28\/100/);
		expect(frame).toContain('active 3 · idle 24 · idle in tx 1');
		expect(frame).toContain('commits 1.2k/s · cache hit 99.2%');
		expect(frame).toContain('longest 3.2 s SELECT count(*)');
		expect(frame).toContain('waiting 2 (by 77) · lag 12 ms ×1');
		// A pool's gauge is against its own maximum from the heartbeats (2 × 20), others against max_connections.
		expect(frame).toMatch(/msdb:primary .*15\/40/);
		expect(frame).toMatch(/psql .*2\/100/);
		expect(frame.split('\n')).toHaveLength(12);
	});

	it('PostgreSQL: a longer query on a wider panel, and its error when down', () => {
		const wide = panel(<PostgresPanel {...props(fullSnapshot(), 120, 12)} />);
		expect(wide).toContain("updated_at > now() - interval '1 day'");
		const down = panel(<PostgresPanel {...props(fullSnapshot({postgres: null, errors: {postgres: 'Cannot connect to PostgreSQL at postgres://app:s3cret@db:5432/agents: ECONNREFUSED'}}))} />);
		expect(words(down)).toContain('✖ Cannot connect to PostgreSQL at postgres://app:***@db:5432/agents: ECONNREFUSED retrying with backoff');
		expect(down).not.toContain('s3cret');
		expect(down).toContain('down');
		const waiting = panel(<PostgresPanel {...props(fullSnapshot({postgres: null}))} />);
		expect(waiting).toContain('waiting for the first answer');
		const none = panel(<PostgresPanel {...props(fullSnapshot({postgres: null, configured: {...fullSnapshot().configured, postgres: false}}))} />);
		expect(words(none)).toContain('No database: pass --database-url or set DATABASE_URL.');
	});

	it('Redis: clients and memory gauges, ops/s, hit rate, evictions, last save; and its error', () => {
		const frame = panel(<RedisPanel {...props(fullSnapshot(), 40, 7)} />);
		expect(frame).toMatch(/clients .*45% 45\/100/);
		expect(frame).toMatch(/memory .*78% 800 MiB\/1\.00 GiB/);
		expect(frame).toContain('ops 5.3k/s · keyspace hit 98.1%');
		expect(frame).toContain('evicted 1.2k (3/s) · saved 5 min ago');
		expect(frame).toContain('master · 1 node · up 3 d');
		const unlimited = panel(<RedisPanel {...props(fullSnapshot({redis: redisSample({memory: {usedBytes: 1024, maxBytes: 0, policy: 'noeviction'}, persistence: {...redisSample().persistence, lastBgsaveStatus: 'err'}})}), 40, 7)} />);
		expect(unlimited).toContain('memory 1.00 KiB (no maxmemory)');
		expect(unlimited).toContain('bgsave failed');
		const down = panel(<RedisPanel {...props(fullSnapshot({redis: null, errors: {redis: 'Cannot sample Redis at redis://127.0.0.1:6390: connect ECONNREFUSED'}}), 40, 7)} />);
		expect(words(down)).toContain('✖ Cannot sample Redis at redis://127.0.0.1:6390: connect ECONNREFUSED');
	});

	it('Cache: L1/L2/L3 and breakers per namespace across instances; "no instances reporting"; its error', () => {
		// One heartbeat per instance: nothing to compare yet, so the rates are since start, marked *.
		const frame = panel(<CachePanel {...props(fullSnapshot(), 40, 7)} />);
		expect(frame).toContain('2 instances · 1 breaker open');
		expect(frame).toMatch(/agents\*\s+90%\s+60%\s+100% open ×1/);
		expect(frame).toMatch(/sessions\*\s+25%\s+66%\s+90% closed/);
		expect(panel(<CachePanel {...props(fullSnapshot(), 70, 7)} />)).toContain('2 instances · 1 breaker open · * rates since start');
		const wide = panel(<CachePanel {...props(fullSnapshot(), 70, 7)} />);
		expect(wide).toMatch(/LOADS\s+INST/);
		const empty = fullSnapshot({fleet: fleetOf([])});
		expect(panel(<CachePanel {...props(empty, 40, 7)} />)).toContain('no instances reporting');
		const down = panel(<CachePanel {...props(fullSnapshot({fleet: null, errors: {fleet: "Cannot read the fleet's heartbeats from redis://x:6379: timeout"}}), 40, 7)} />);
		expect(words(down)).toContain("✖ Cannot read the fleet's heartbeats from redis://x:6379: timeout");
	});

	it('Cache: rates over the last heartbeat interval once every instance has published twice, and says which', () => {
		// 5 s later: agents had 10 L1 hits and 30 misses more (lifetime 100/140, now 25%), sessions no reads.
		const later = (instance: HeartbeatSnapshot): HeartbeatSnapshot => ({
			...instance,
			publishedAt: new Date(NOW.getTime() + 5000).toISOString(),
			caches: instance.caches.map(cache => (cache.namespace === 'agents' ? {...cache, l1: {...cache.l1, hits: cache.l1.hits + 5, misses: cache.l1.misses + 15}} : cache)),
		});
		const before = [heartbeat('a', 'closed'), heartbeat('b', 'closed')];
		const interval = panel(<CachePanel {...props(fullSnapshot({fleet: fleetOf(before.map(later), before)}), 70, 7)} />);
		expect(interval).toContain('2 instances · rates over 5 s');
		expect(interval).toMatch(/agents\s+25%\s+—\s+—\s+0\s+2 closed/);
		expect(interval).toMatch(/sessions\s+—\s+—\s+—/);
		// A third instance that just started: its namespaces show since start, marked *.
		const joined = [...before.map(later), {...heartbeat('c', 'closed'), caches: [heartbeat('c', 'closed').caches[0]!]}];
		const mixed = panel(<CachePanel {...props(fullSnapshot({fleet: fleetOf(joined, before)}), 70, 7)} />);
		expect(mixed).toContain('3 instances · rates over 5 s, * since start');
		expect(mixed).toMatch(/agents\*\s+\d+%/);
		expect(mixed).toMatch(/sessions \s+—/);
	});

	it('Migrations: current version, pending list, validation and drift; and its errors', () => {
		const frame = panel(<MigrationsPanel {...props(fullSnapshot(), 40, 9)} />);
		expect(frame).toContain('current 8 · 8 applied · 3 pending');
		expect(frame).toContain('validate ✖ 1 problem · drift ✔ none');
		expect(frame).toContain('pending 9 audit');
		expect(frame).toContain('pending 11 knowledge_search');
		expect(frame).toContain('! 5 checksum-mismatch');
		const noSnapshot = fullSnapshot({migrations: {...fullSnapshot().migrations!, validation: {ok: true, problems: []}, drift: {ok: true, problems: [], snapshotTakenAt: null}, pending: []}});
		expect(panel(<MigrationsPanel {...props(noSnapshot, 40, 9)} />)).toContain('validate ✔ ok · drift no snapshot');
		const partly = fullSnapshot({
			migrations: {...fullSnapshot().migrations!, statusKnown: false, current: null, pending: [], errors: {status: 'The migrations folder ./migrations does not exist.'}},
			errors: {migrations: 'Cannot connect to PostgreSQL'},
		});
		const partlyFrame = panel(<MigrationsPanel {...props(partly, 60, 9)} />);
		expect(partlyFrame).toContain('✖ Cannot connect to PostgreSQL');
		expect(partlyFrame).toContain('status unknown');
		expect(words(partlyFrame)).toContain('✖ status: The migrations folder ./migrations does not exist.');
	});

	it('Backups: last backup and verified restore ages, recent backups; no target; its error', () => {
		const frame = panel(<BackupsPanel {...props(fullSnapshot(), 40, 8)} />);
		expect(frame).toContain('last backup 3 h ago · 12 in target');
		expect(frame).toContain('verified restore 2 d ago');
		expect(frame).toMatch(/✔\s+3 h\s+5\.00 MiB postgres\+redis/);
		expect(frame).toMatch(/✖\s+27 h\s+10\.0 MiB/);
		const wide = panel(<BackupsPanel {...props(fullSnapshot(), 70, 8)} />);
		expect(wide).toContain('20250601T030000Z-abc000');
		const none = fullSnapshot({backups: null, configured: {...fullSnapshot().configured, backups: false}});
		expect(words(panel(<BackupsPanel {...props(none, 40, 8)} />))).toContain('No backup target: pass --target or set MSDB_BACKUP_TARGET.');
		const failing = fullSnapshot({errors: {backups: 'Cannot list s3://backups/msdb: AccessDenied'}});
		const failingFrame = panel(<BackupsPanel {...props(failing, 40, 8)} />);
		expect(failingFrame).toContain('✖ Cannot list s3://backups/msdb');
		expect(failingFrame).toContain('last backup 3 h ago');
		const empty = fullSnapshot({backups: {...fullSnapshot().backups!, total: 0, recent: [], lastBackup: null, lastVerifiedRestore: null}});
		const emptyFrame = panel(<BackupsPanel {...props(empty, 40, 8)} />);
		expect(emptyFrame).toContain('no backup yet');
		expect(emptyFrame).toContain('no verified restore');
	});
});

describe('layout', () => {
	it('fits 80×24 in two columns, widens them from 120 columns and uses three from 160', () => {
		const hints = FLOWS.map(flow => ({key: flow.key, label: flow.label}));
		const small = consoleLayout({columns: 80, rows: 24}, hints);
		expect(small.columns.map(column => column.width)).toEqual([40, 40]);
		expect(2 + small.bodyHeight + small.footerHeight).toBe(23);
		for (const column of small.columns) {
			expect(column.panels.reduce((sum, panel) => sum + panel.height, 0)).toBe(small.bodyHeight);
		}

		const medium = consoleLayout({columns: 120, rows: 40}, hints);
		expect(medium.columns.map(column => column.width)).toEqual([60, 60]);
		const wide = consoleLayout({columns: 160, rows: 50}, hints);
		expect(wide.columns).toHaveLength(3);
		expect(wide.columns[0]?.panels).toEqual([{id: 'postgres', height: wide.bodyHeight}]);
		expect(wide.bodyHeight).toBeGreaterThan(small.bodyHeight * 2);
		expect(footerLines([{key: 'q', label: 'quit'}], 80)).toBe(1);
		expect(footerLines(Array.from({length: 12}, () => ({key: 'x', label: 'something'})), 40)).toBeGreaterThan(2);
	});
});

describe('ConsoleApp on fixed snapshots', () => {
	const size = {columns: 80, rows: 24};

	it('renders the whole dashboard in 80×24 with the header, every panel and the footer', async () => {
		const app = renderApp(<ConsoleApp model={new FixedFeed(fullSnapshot())} flowContext={context()} readonly={false} size={size} />);
		unmounts.push(app.unmount);
		const frame = await app.waitForFrame('5 Backups');
		const lines = frame.split('\n');
		expect(lines.length).toBeLessThanOrEqual(23);
		expect(Math.max(...lines.map(line => line.length))).toBeLessThanOrEqual(80);
		expect(lines[0]).toContain('env prod');
		expect(lines[0]).toContain('PG db.internal:5432/agents 16.4 │ Redis standalone 7.2.4');
		expect(lines[1]).toContain('backups s3://backups/msdb');
		expect(frame).toContain('refresh 2 s');
		for (const title of ['1 PostgreSQL', '2 Redis', '3 Cache', '4 Migrations', '5 Backups']) {
			expect(frame).toContain(title);
		}

		expect(footerOf(frame)).toMatch(/\? help.*q quit.*tab panel.*1-5 jump/s);
		expect(footerOf(frame)).toMatch(/m migrate.*u roll back.*b back up.*r restore.*X reset/s);
	});

	it('space pauses and resumes, + and - change the interval shown in the header', async () => {
		const feed = new FixedFeed(fullSnapshot());
		const app = renderApp(<ConsoleApp model={feed} flowContext={context()} readonly={false} size={size} />);
		unmounts.push(app.unmount);
		await app.waitForFrame('● live');
		await app.press(' ');
		expect(await app.waitForFrame('PAUSED')).toContain('space resume');
		await app.press(' ');
		await app.waitForFrame('● live');
		await app.press('+');
		await app.waitForFrame('refresh 5 s');
		await app.press('+');
		await app.waitForFrame('refresh 10 s');
		await app.press('-');
		await app.press('-');
		await app.press('-');
		await app.waitForFrame('refresh 1 s');
		expect(feed.latest.intervalMs).toBe(1000);
	});

	it('tab, shift-tab and 1–5 move the focus; j/k and the arrows scroll the focused list', async () => {
		const app = renderApp(<ConsoleApp model={new FixedFeed(fullSnapshot())} flowContext={context()} readonly={false} size={size} />);
		unmounts.push(app.unmount);
		// The PostgreSQL panel has 12 applications for 5 rows: it scrolls, and the footer says so.
		let frame = await app.waitForFrame('1–5/12');
		expect(footerOf(frame)).toContain('j/k scroll');
		expect(frame).toContain('msdb:primary');
		await app.press('j');
		frame = await app.waitForFrame('2–6/12');
		expect(frame).not.toContain('msdb:primary');
		await app.press(keys.down);
		await app.waitForFrame('3–7/12');
		for (let index = 0; index < 20; index++) {
			await app.press('j');
		}

		await app.waitForFrame('8–12/12');
		await app.press('k');
		await app.waitForFrame('7–11/12');
		await app.press(keys.up);
		await app.waitForFrame('6–10/12');

		// Focus: the focused panel's title is bold and cyan; moving it shows in which list scrolls.
		await app.press('5');
		frame = await app.waitForFrame(/Backups.*1–\d+\/12/);
		await app.press('j');
		await app.waitForFrame(/Backups.*2–\d+\/12/);
		await app.press(keys.tab);
		await app.press('j');
		await app.waitForFrame('7–11/12');
		await app.press(keys.shiftTab);
		await app.press('k');
		await app.waitForFrame(/Backups.*1–\d+\/12/);
		// The Redis panel has no list: no scroll key in the footer.
		await app.press('2');
		await waitFor(() => !footerOf(app.frame()).includes('j/k'), app.frame);
	});

	it('? shows every key, esc closes it', async () => {
		const app = renderApp(<ConsoleApp model={new FixedFeed(fullSnapshot())} flowContext={context()} readonly={false} size={size} />);
		unmounts.push(app.unmount);
		await app.waitForFrame('1 PostgreSQL');
		await app.press('?');
		const frame = await app.waitForFrame('Keys');
		for (const text of ['q  ctrl-c', 'tab  shift-tab', 'j k', 'space', 'refresh slower / faster (now 2 s)', 'migrate', 'roll back', 'back up', 'restore', 'reset', 'esc']) {
			expect(frame).toContain(text);
		}

		expect(frame).not.toContain('1 PostgreSQL');
		expect(footerOf(frame)).toContain('esc close');
		await app.press(keys.escape);
		await app.waitForFrame('1 PostgreSQL');
		await app.press('?');
		await app.waitForFrame('Keys');
		await app.press('?');
		await app.waitForFrame('1 PostgreSQL');
	});

	it('--readonly: a badge, no m/u/r/X in the footer or help, their keys do nothing; b stays', async () => {
		const opened: string[] = [];
		const flows = stubFlows(opened);
		const app = renderApp(<ConsoleApp model={new FixedFeed(fullSnapshot())} flowContext={context({readonly: true})} readonly flows={flows} size={size} />);
		unmounts.push(app.unmount);
		const frame = await app.waitForFrame('READ-ONLY');
		const footer = footerOf(frame);
		expect(footer).toContain('b back up');
		for (const hidden of ['m migrate', 'u roll back', 'r restore', 'X reset']) {
			expect(footer).not.toContain(hidden);
		}

		for (const key of ['m', 'u', 'r', 'X']) {
			await app.press(key);
		}

		expect(opened).toEqual([]);
		expect(app.frame()).toContain('1 PostgreSQL');
		await app.press('?');
		const help = await app.waitForFrame('Keys');
		expect(help).toContain('read-only (--readonly)');
		expect(help).not.toMatch(/^\W*m\s+migrate/m);
		await app.press(keys.escape);
		await app.press('b');
		await app.waitForFrame('stub backup flow');
		expect(opened).toEqual(['backup']);
		expect(offeredFlows(FLOWS, true).map(flow => flow.key)).toEqual(['b']);
	});

	it('m/u/b/r/X open their flow below the header; esc in the flow returns with its outcome and refreshes', async () => {
		const opened: string[] = [];
		const feed = new FixedFeed(fullSnapshot());
		const app = renderApp(<ConsoleApp model={feed} flowContext={context()} readonly={false} flows={stubFlows(opened)} size={size} />);
		unmounts.push(app.unmount);
		await app.waitForFrame('1 PostgreSQL');
		for (const [key, name] of [
			['m', 'migrate'],
			['u', 'rollback'],
			['b', 'backup'],
			['r', 'restore'],
			['X', 'reset'],
		] as const) {
			await app.press(key);
			const frame = await app.waitForFrame(`stub ${name} flow`);
			expect(frame).toContain('env prod');
			expect(frame).not.toContain('1 PostgreSQL');
			expect(frame).toMatch(/room \d+×\d+/);
			expect(footerOf(frame)).toContain('ctrl-c quit msdb');
			// The console's own keys are off while a flow has the screen.
			await app.press('q');
			await app.press('?');
			expect(app.frame()).toContain(`stub ${name} flow`);
			await app.press(keys.escape);
			await app.waitForFrame('1 PostgreSQL');
			expect(app.frame()).toContain(`cancelled ${name}`);
		}

		expect(opened).toEqual(['migrate', 'rollback', 'backup', 'restore', 'reset']);
		expect(feed.refreshes).toHaveBeenCalledTimes(5);
	});

	it('q quits', async () => {
		const onQuit = vi.fn();
		const app = renderApp(<ConsoleApp model={new FixedFeed(fullSnapshot())} flowContext={context()} readonly={false} size={size} onQuit={onQuit} />);
		unmounts.push(app.unmount);
		await app.waitForFrame('1 PostgreSQL');
		await app.press('q');
		expect(onQuit).toHaveBeenCalledTimes(1);
	});

	it('uses the room of a larger terminal: three columns, longer lists', async () => {
		const app = renderApp(<ConsoleApp model={new FixedFeed(fullSnapshot())} flowContext={context()} readonly={false} size={{columns: 100, rows: 50}} />);
		unmounts.push(app.unmount);
		const frame = await app.waitForFrame('5 Backups');
		expect(frame.split('\n').length).toBeLessThanOrEqual(49);
		// 50 rows: every application fits, so the list no longer scrolls.
		expect(frame).not.toContain('/12');
		expect(frame).toContain('worker-9');
	});
});

/** Flows that show their name and the room they were given, and leave on esc. */
function stubFlows(opened: string[]): FlowEntry[] {
	return FLOWS.map(entry => ({
		...entry,
		component: function StubFlow({onExit, width, height}: FlowProps) {
			opened.push(entry.name);
			useInput((_input, key) => {
				if (key.escape) {
					onExit({status: 'cancelled', summary: `cancelled ${entry.name}`});
				}
			});
			return (
				<Text>
					stub {entry.name} flow, room {width}×{height}
				</Text>
			);
		},
	}));
}

describe('ConsoleApp on a real model (fresh database, private Redis)', () => {
	const database = useTestDatabase('ui_console');
	const redis = useTestRedis();

	it('shows live figures from the servers, and the keys act on the model', async () => {
		const {model} = openDashboard({
			databaseUrl: database.url,
			redisUrl: redis.url,
			migrationsDir: 'no-such-migrations',
			rollbacksDir: 'no-such-rollbacks',
			intervalMs: 200,
			env: {MSDB_ENV: 'uitest'},
		});
		model.start();
		const onQuit = vi.fn();
		const app = renderApp(<ConsoleApp model={model} flowContext={context()} readonly={false} size={{columns: 80, rows: 24}} onQuit={onQuit} />);
		unmounts.push(app.unmount);
		try {
			let frame = await app.waitForFrame(/connections .*\/\d+/);
			await app.waitForFrame(/clients .*\/\d+/);
			frame = await app.waitForFrame('no instances reporting');
			expect(frame).toContain(`/${database.name}`);
			expect(frame).toContain('env uitest');
			expect(frame).toContain('No backup target');
			// A missing migrations folder fails the status and validation; drift still answers.
			frame = await app.waitForFrame('status unknown');
			await app.press(' ');
			await app.waitForFrame('PAUSED');
			expect(model.paused).toBe(true);
			await app.press(' ');
			await app.waitForFrame('● live');
			await app.press('+');
			await app.waitForFrame('refresh 0.5 s');
			expect(model.intervalMs).toBe(500);
			await app.press('q');
			expect(onQuit).toHaveBeenCalled();
		} finally {
			await model.stop();
		}
	});

	it('opens the real flows of the registry with their keys; esc comes back to the dashboard', async () => {
		const app = renderApp(<ConsoleApp model={new FixedFeed(fullSnapshot())} flowContext={context({database: resolveDatabaseConfig(database.url, {}), migrationsDir: REPO_MIGRATIONS, rollbacksDir: REPO_ROLLBACKS})} readonly={false} size={{columns: 80, rows: 24}} />);
		unmounts.push(app.unmount);
		await app.waitForFrame('1 PostgreSQL');
		for (const flow of FLOWS) {
			await app.press(flow.key);
			await app.waitForGone('1 PostgreSQL');
			await app.press(keys.escape);
			await app.waitForFrame('1 PostgreSQL');
		}
	});
});

const hasTmux = (await execa('tmux', ['-V'], {reject: false})).exitCode === 0;

describe.skipIf(!hasTmux)('the built console in a terminal (tmux, 80×24)', () => {
	const database = useTestDatabase('ui_console_tmux');
	const redis = useTestRedis();

	it('opens full-screen with --readonly, quits with q (exit 0) and gives the screen back', async () => {
		// A private tmux server: nothing of the developer's sessions is touched.
		const socket = `msdb-test-${randomBytes(4).toString('hex')}`;
		const tmux = async (...args: string[]) => execa('tmux', ['-L', socket, ...args], {reject: false});
		const screen = async () => (await tmux('capture-pane', '-p', '-t', 'console')).stdout;
		const until = async (check: (text: string) => boolean) => {
			const deadline = Date.now() + 20_000;
			for (;;) {
				const text = await screen();
				if (check(text)) {
					return text;
				}

				if (Date.now() > deadline) {
					throw new Error(`timed out; the screen:\n${text}`);
				}

				await sleep(100);
			}
		};

		const command = [process.execPath, CLI_PATH, '--readonly', '--database-url', database.url, '--redis-url', redis.url, '--migrations-dir', REPO_MIGRATIONS]
			.map(part => `'${part}'`)
			.join(' ');
		await tmux('new-session', '-d', '-s', 'console', '-x', '80', '-y', '24', `echo before-console; env -u DATABASE_URL -u REDIS_URL ${command}; echo "EXIT=$?"; sleep 60`);
		try {
			const frame = await until(text => text.includes('5 Backups') && /connections .*\/\d+/.test(text));
			const lines = frame.split('\n');
			expect(lines.length).toBeLessThanOrEqual(24);
			expect(frame).toContain('READ-ONLY');
			expect(frame).not.toContain('before-console');
			expect(frame).toContain('b back up');
			expect(frame).not.toMatch(/m migrate|X reset/);
			await tmux('send-keys', '-t', 'console', '?');
			await until(text => text.includes('Keys'));
			await tmux('send-keys', '-t', 'console', 'Escape');
			await until(text => text.includes('1 PostgreSQL'));
			await tmux('send-keys', '-t', 'console', 'q');
			const after = await until(text => text.includes('EXIT='));
			expect(after).toContain('EXIT=0');
			expect(after).toContain('before-console');
			expect(after).not.toContain('1 PostgreSQL');
		} finally {
			await tmux('kill-server');
		}
	});
});
