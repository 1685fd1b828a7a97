/**
 * The console's model (the pg_activity / k9s split: SQL kept as data in the samplers, this model
 * polls and emits, the Ink views only render). It owns every poller behind the dashboard and
 * merges what they report into one {@link DashboardSnapshot}:
 *
 * - the live gauges: a {@link ServerSampler} (one multi-statement round trip to PostgreSQL and
 *   one INFO per Redis primary per interval, default 2 s);
 * - the fleet's heartbeats, at the same interval (one script call and one MGET);
 * - migrations (status, validation, drift) every 30 s, and backups every 60 s: they change only
 *   when someone migrates or backs up, so polling them at the gauges' rate would multiply the
 *   console's load for nothing. `refreshNow()` re-reads both after a guided flow.
 *
 * Every poller is a {@link Sampler}: never two polls of one source at once, backoff after
 * failures, and a failing source never hides the others (its data is null or stale and its
 * error, redacted, is in `errors`). The model counts what it sends ({@link ConsoleLoad}) so the
 * console's own cost can be measured (`npm run bench`).
 */
import type {BackupTarget} from '../backup/backup-target.js';
import {listBackups} from '../backup/backup-catalogue.js';
import {newestPassingDrill, type DrillMemo} from '../backup/restore-drills.js';
import type {DatabaseConfig} from '../config/database-config.js';
import {asMsdbError} from '../errors.js';
import {readFleet} from '../fleet/fleet-reader.js';
import {DEFAULT_LIMITS} from '../migrations/migration-settings.js';
import {redact} from '../redact.js';
import {createRedisClient} from '../redis/create-redis-client.js';
import type {RedisClient} from '../redis/redis-client.js';
import type {RedisEndpoint} from '../redis/redis-config.js';
import {POSTGRES_SAMPLER_QUERY_ORDER} from '../sampler/postgres-sampler-queries.js';
import {DEFAULT_MAX_BACKOFF_MS, DEFAULT_SAMPLE_INTERVAL_MS, Sampler, type SamplerEvent} from '../sampler/sampler.js';
import {ServerSampler, type ServerSnapshot} from '../sampler/server-sampler.js';
import {backupsOverview} from './backups-overview.js';
import {CacheHitRateTracker} from './cache-hit-rates.js';
import {countSentCommands, type CommandCounter} from './command-counter.js';
import type {
	BackupsOverview,
	DashboardFeed,
	DashboardFleet,
	DashboardHeader,
	DashboardListener,
	DashboardSnapshot,
	MigrationsOverview,
} from './dashboard-snapshot.js';
import {readMigrationsOverview} from './migrations-overview.js';
import {postgresLocation} from './postgres-location.js';
import {notifyListeners} from '../sampler/notify-listeners.js';

/** How often migrations are re-read (and after every flow). */
export const DEFAULT_MIGRATIONS_INTERVAL_MS = 30_000;
/** How often the backup target is listed (and after every flow). */
export const DEFAULT_BACKUPS_INTERVAL_MS = 60_000;
/** CLIENT SETNAME of the console's fleet connection. */
export const CONSOLE_FLEET_CONNECTION_NAME = 'msdb:console';

/** What the console watches; a source left out shows as not configured. */
export type DashboardModelOptions = {
	/** The primary database: live gauges, and migrations when `migrations` is given. */
	database?: DatabaseConfig;
	/** The Redis whose gauges are shown. */
	redis?: RedisEndpoint;
	/** The Redis holding the fleet's heartbeats (the role `msdb worker` publishes on) and whose fleet (MSDB_ENV). */
	fleet?: {endpoint: RedisEndpoint; env: string};
	/** Where the migration files are and who reads them (recorded nowhere: every read is read-only). */
	migrations?: {migrationsDir: string; rollbacksDir: string; actor: string};
	backupTarget?: BackupTarget;
	/** For the header (default: the fleet's env, else `dev`). */
	environment?: string;
	/** The live gauges' interval, default 2000 ms. */
	intervalMs?: number;
	migrationsIntervalMs?: number;
	backupsIntervalMs?: number;
	/** Longest wait after failures, per source (default 30 s, never less than its interval). */
	maxBackoffMs?: number;
	/** Clock for snapshot times; tests pass a fixed one. */
	now?: () => Date;
};

/**
 * What the console has sent since `start()`. A poll that failed before it reached the server
 * still counts as one (it tried); everything is a count of requests, not of rows.
 */
export type ConsoleLoad = {
	/** Since `start()`, ms. */
	elapsedMs: number;
	/** PostgreSQL sampler polls: each one round trip of {@link POSTGRES_STATEMENTS_PER_POLL} statements in one transaction. */
	postgresPolls: number;
	/** Statements in those polls. */
	postgresStatements: number;
	/** Redis sampler commands (INFO per primary, CONFIG GET where INFO lacks maxclients). */
	redisCommands: number;
	/** Fleet polls, and the commands the fleet connection sent (handshake included). */
	fleetPolls: number;
	fleetCommands: number;
	/** Migration checks: each opens up to three short read-only sessions (status, validate, drift). */
	migrationChecks: number;
	/** Listings of the backup target (one LIST, then the manifests it names). */
	backupListings: number;
};

/** Statements in one PostgreSQL sampler poll (sent as one string, one round trip). */
export const POSTGRES_STATEMENTS_PER_POLL = POSTGRES_SAMPLER_QUERY_ORDER.length;

type SlowSource = 'fleet' | 'migrations' | 'backups';

/** The console's data: every poller behind the dashboard, merged into one stream of snapshots. */
export class DashboardModel implements DashboardFeed {
	readonly #options: DashboardModelOptions;
	readonly #now: () => Date;
	readonly #listeners = new Set<DashboardListener>();
	readonly #server: ServerSampler;
	readonly #pollers: Partial<Record<SlowSource, Sampler<unknown>>> = {};
	/** A refresh asked for while that source's poll was in flight: the poll reads again before it reports. */
	readonly #refreshWanted = new Set<SlowSource>();
	readonly #inFlight = new Set<SlowSource>();
	readonly #unsubscribe: Array<() => void> = [];
	/** Each instance's latest heartbeats, for cache rates over the last interval rather than since start. */
	readonly #cacheRates = new CacheHitRateTracker();
	/** Verification records read by earlier backup polls: read again only when a backup gets a new one. */
	readonly #drills: DrillMemo = new Map();
	#fleetClient: RedisClient | undefined;
	#fleetCommands: CommandCounter | undefined;
	#latest: DashboardSnapshot;
	#state: 'new' | 'running' | 'stopped' = 'new';
	#paused = false;
	#startedAt = 0;
	readonly #load = {postgresPolls: 0, redisCommands: 0, fleetPolls: 0, migrationChecks: 0, backupListings: 0};

	constructor(options: DashboardModelOptions) {
		this.#options = options;
		this.#now = options.now ?? (() => new Date());
		const intervalMs = options.intervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS;
		const maxBackoffMs = options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
		this.#server = new ServerSampler({database: options.database, redis: options.redis, intervalMs, maxBackoffMs, now: this.#now});
		this.#unsubscribe.push(this.#server.subscribe(snapshot => this.#onServer(snapshot)));
		this.#unsubscribe.push(
			...[
				this.#server.postgres?.subscribe(() => {
					this.#load.postgresPolls++;
				}),
				this.#server.redis?.subscribe(event => {
					this.#load.redisCommands += event.type === 'sample' ? Object.values(event.sample.counters).reduce((sum, node) => sum + node.samplerCommandsAfterReading, 0) : 1;
				}),
			].filter(unsubscribe => unsubscribe !== undefined),
		);

		if (options.fleet) {
			const {endpoint, env} = options.fleet;
			this.#addPoller('fleet', intervalMs, maxBackoffMs, async () => {
				this.#load.fleetPolls++;
				const reading = await readFleet(this.#fleet(endpoint), {env});
				return {...reading, cacheRates: this.#cacheRates.update(reading)};
			});
		}

		if (options.database && options.migrations) {
			const {database} = options;
			const {migrationsDir, rollbacksDir, actor} = options.migrations;
			this.#addPoller('migrations', options.migrationsIntervalMs ?? DEFAULT_MIGRATIONS_INTERVAL_MS, maxBackoffMs, async signal => {
				this.#load.migrationChecks++;
				return readMigrationsOverview({
					database,
					migrationsDir,
					rollbacksDir,
					// Read-only reads never take the lock or run a file; these only satisfy the type.
					lockTimeoutMs: 0,
					limits: DEFAULT_LIMITS,
					lockRetries: 0,
					actor,
					signal,
				});
			});
		}

		if (options.backupTarget) {
			const target = options.backupTarget;
			this.#addPoller('backups', options.backupsIntervalMs ?? DEFAULT_BACKUPS_INTERVAL_MS, maxBackoffMs, async () => {
				this.#load.backupListings++;
				const catalogue = await listBackups(target, {now: this.#now()});
				return backupsOverview(catalogue, target.display, await newestPassingDrill(target, catalogue, {memo: this.#drills}));
			});
		}

		this.#latest = {
			header: this.#header(),
			postgres: null,
			redis: null,
			fleet: null,
			migrations: null,
			backups: null,
			errors: {},
			configured: {
				postgres: options.database !== undefined,
				redis: options.redis !== undefined,
				fleet: options.fleet !== undefined,
				migrations: options.database !== undefined && options.migrations !== undefined,
				backups: options.backupTarget !== undefined,
			},
			updatedAt: {},
			intervalMs,
			paused: false,
			takenAt: this.#now(),
		};
	}

	/** The latest snapshot; the same object until the next one is emitted. */
	get latest(): DashboardSnapshot {
		return this.#latest;
	}

	/** The live gauges' interval, ms. */
	get intervalMs(): number {
		return this.#latest.intervalMs;
	}

	get paused(): boolean {
		return this.#paused;
	}

	/** Starts every poller; each polls at once. A stopped model cannot be started again. */
	start(): void {
		if (this.#state !== 'new') {
			return;
		}

		this.#state = 'running';
		this.#startedAt = performance.now();
		// Paused before start: the samplers are paused too, so start() arms them without polling.
		this.#server.start();
		for (const poller of Object.values(this.#pollers)) {
			poller.start();
		}
	}

	/**
	 * Stops every poller, waits for polls in flight (their results are dropped) and closes every
	 * connection: afterwards the model holds no timer and no socket. Emits nothing more.
	 */
	async stop(): Promise<void> {
		if (this.#state === 'stopped') {
			return;
		}

		this.#state = 'stopped';
		this.#listeners.clear();
		await Promise.all([this.#server.stop(), ...Object.values(this.#pollers).map(async poller => poller.stop())]);
		for (const unsubscribe of this.#unsubscribe.splice(0)) {
			unsubscribe();
		}

		const client = this.#fleetClient;
		this.#fleetClient = undefined;
		client?.disconnect();
	}

	/** Stops polling every source until `resume()`: a paused console sends nothing. */
	pause(): void {
		if (this.#paused) {
			return;
		}

		this.#paused = true;
		this.#server.pause();
		for (const poller of Object.values(this.#pollers)) {
			poller.pause();
		}

		this.#emit({paused: true});
	}

	/** Polls every source at once and carries on at the usual intervals. */
	resume(): void {
		if (!this.#paused) {
			return;
		}

		this.#paused = false;
		this.#server.resume();
		for (const poller of Object.values(this.#pollers)) {
			poller.resume();
		}

		this.#emit({paused: false});
	}

	/** Changes the live gauges' interval (PostgreSQL, Redis, fleet); migrations and backups keep theirs. */
	setInterval(intervalMs: number): void {
		this.#server.setInterval(intervalMs);
		this.#pollers.fleet?.setInterval(intervalMs);
		this.#emit({intervalMs});
	}

	/**
	 * Re-reads migrations and backups now (after a guided flow changed them). A read already in
	 * flight reads again before it reports, so what is shown next is from after this call. While
	 * paused nothing is sent: resuming reads everything anyway.
	 */
	refreshNow(): void {
		if (this.#state !== 'running' || this.#paused) {
			return;
		}

		for (const source of ['migrations', 'backups'] as const) {
			const poller = this.#pollers[source];
			if (!poller) {
				continue;
			}

			if (this.#inFlight.has(source)) {
				this.#refreshWanted.add(source);
			} else {
				// Sampler has no "poll now"; pause + resume is one: resume polls at once.
				poller.pause();
				poller.resume();
			}
		}
	}

	/** Calls `listener` with every new snapshot (not the current one: read `latest`); returns the unsubscribe. */
	subscribe(listener: DashboardListener): () => void {
		const entry: DashboardListener = snapshot => listener(snapshot);
		this.#listeners.add(entry);
		return () => {
			this.#listeners.delete(entry);
		};
	}

	/** What the console has sent so far (for `npm run bench` and the curious). */
	load(): ConsoleLoad {
		return {
			elapsedMs: this.#state === 'new' ? 0 : performance.now() - this.#startedAt,
			postgresPolls: this.#load.postgresPolls,
			postgresStatements: this.#load.postgresPolls * POSTGRES_STATEMENTS_PER_POLL,
			redisCommands: this.#load.redisCommands,
			fleetPolls: this.#load.fleetPolls,
			fleetCommands: this.#fleetCommands?.sent ?? 0,
			migrationChecks: this.#load.migrationChecks,
			backupListings: this.#load.backupListings,
		};
	}

	#addPoller<T>(source: SlowSource, intervalMs: number, maxBackoffMs: number, read: (signal: AbortSignal) => Promise<T>): void {
		const poller = new Sampler<T>({
			intervalMs,
			maxBackoffMs,
			now: this.#now,
			take: async signal => {
				this.#inFlight.add(source);
				try {
					let result: T;
					do {
						this.#refreshWanted.delete(source);
						result = await read(signal);
					} while (this.#refreshWanted.has(source) && !signal.aborted);
					return result;
				} finally {
					this.#inFlight.delete(source);
					this.#refreshWanted.delete(source);
				}
			},
		});
		this.#pollers[source] = poller as Sampler<unknown>;
		this.#unsubscribe.push(poller.subscribe(event => this.#onSlow(source, event as SamplerEvent<never>)));
	}

	#fleet(endpoint: RedisEndpoint): RedisClient {
		if (!this.#fleetClient) {
			const {client} = createRedisClient(endpoint, {
				connectionName: CONSOLE_FLEET_CONNECTION_NAME,
				label: 'console fleet',
				commandTimeoutMs: 2000,
				// One read in flight at a time: a few commands' worth of queue is plenty.
				maxOfflineQueue: 8,
			});
			// Failures reach the poll that hit them; without a listener ioredis prints every reconnect error.
			client.on('error', () => {});
			this.#fleetCommands = countSentCommands(client);
			this.#fleetClient = client;
		}

		return this.#fleetClient;
	}

	#onServer(snapshot: ServerSnapshot): void {
		const errors = {...this.#latest.errors};
		const updatedAt = {...this.#latest.updatedAt};
		for (const side of ['postgres', 'redis'] as const) {
			const error = snapshot.errors[side];
			if (error === undefined) {
				delete errors[side];
			} else {
				errors[side] = error;
			}

			if (snapshot[side] !== null && snapshot[side] !== this.#latest[side]) {
				updatedAt[side] = snapshot.takenAt;
			}
		}

		this.#emit({postgres: snapshot.postgres, redis: snapshot.redis, errors, updatedAt, header: this.#header(snapshot)});
	}

	#onSlow(source: SlowSource, event: SamplerEvent<DashboardFleet | MigrationsOverview | BackupsOverview>): void {
		const errors = {...this.#latest.errors};
		const updatedAt = {...this.#latest.updatedAt};
		if (event.type === 'sample') {
			delete errors[source];
			updatedAt[source] = event.takenAt;
			this.#emit({[source]: event.sample, errors, updatedAt});
			return;
		}

		errors[source] = redact(source === 'fleet' ? this.#fleetError(event.error.message) : asMsdbError(event.error).message);
		// The fleet is live data: stale heartbeats would show instances that are gone. Migrations
		// and backups change only when someone acts, so the last reading stays beside the error.
		this.#emit(source === 'fleet' ? {fleet: null, errors} : {errors});
	}

	#fleetError(message: string): string {
		return `Cannot read the fleet's heartbeats from ${this.#options.fleet?.endpoint.display ?? 'Redis'}: ${message}`;
	}

	#header(snapshot?: ServerSnapshot): DashboardHeader {
		const previous = this.#latest?.header;
		const {database, redis, backupTarget} = this.#options;
		return {
			environment: this.#options.environment ?? this.#options.fleet?.env ?? 'dev',
			postgres: database
				? {
						display: database.display,
						...postgresLocation(database.display),
						version: snapshot?.postgres?.serverVersion ?? previous?.postgres?.version ?? null,
					}
				: null,
			redis: redis ? {display: redis.display, mode: redis.kind, version: snapshot?.redis?.version ?? previous?.redis?.version ?? null} : null,
			backupTarget: backupTarget ? redact(backupTarget.display) : null,
		};
	}

	#emit(patch: Partial<DashboardSnapshot>): void {
		if (this.#state === 'stopped') {
			return;
		}

		this.#latest = {...this.#latest, ...patch, paused: this.#paused, takenAt: this.#now()};
		notifyListeners(this.#listeners, this.#latest);
	}
}
