import type {BackupComponent} from '../backup/backup-manifest-types.js';
import type {FleetReading} from '../fleet/fleet-reader.js';
import type {RedisEndpointKind} from '../redis/redis-config.js';
import type {PostgresSample} from '../sampler/postgres-sample.js';
import type {RedisSample} from '../sampler/redis-sample.js';
import type {NamespaceHitRates} from './cache-hit-rates.js';

/** The console's data sources, one per panel (the fleet feeds the cache panel and the pool gauges). */
export type DashboardSource = 'postgres' | 'redis' | 'fleet' | 'migrations' | 'backups';

/** What the header shows: where the console looks. Every string is safe to print. */
export type DashboardHeader = {
	/** MSDB_ENV (default `dev`): the fleet whose heartbeats are read. */
	environment: string;
	/** Null when no database is configured. */
	postgres: {
		/** The URL with the password masked. */
		display: string;
		/** `host:port`, or the display when it cannot be split. */
		host: string;
		database: string | null;
		/** From the last sample that answered (kept while the server is down); null before the first. */
		version: string | null;
	} | null;
	redis: {
		display: string;
		mode: RedisEndpointKind;
		version: string | null;
	} | null;
	/** The backup target's display form; null when none is configured. */
	backupTarget: string | null;
};

/** Where the migrations stand: status, validation and drift, each of which may fail on its own. */
export type MigrationsOverview = {
	/** Null when the status could not be read (see `errors.status`). */
	current: number | null;
	applied: number;
	pending: Array<{version: number; name: string}>;
	/** Null when validation could not run (see `errors.validation`). */
	validation: {ok: boolean; problems: Array<{version?: number; kind: string; message: string}>} | null;
	/** Null when drift could not be checked (see `errors.drift`). */
	drift: {
		ok: boolean;
		problems: Array<{identity: string; message: string}>;
		/** When the compared snapshot was taken; null when there is none yet (no migration ran). */
		snapshotTakenAt: string | null;
	} | null;
	/** Why a part is missing, redacted. */
	errors: {status?: string; validation?: string; drift?: string};
	/** True when the status part answered (current/applied/pending are real). */
	statusKnown: boolean;
};

/** One backup in the recent list. */
export type RecentBackup = {
	id: string;
	finishedAt: string;
	bytes: number;
	components: BackupComponent[];
	lastVerification: {verifiedAt: string; ok: boolean; drill: boolean} | null;
};

/** What the backup target holds, newest first. */
export type BackupsOverview = {
	target: string;
	/** Valid backups in the target. */
	total: number;
	/** Newest first, at most {@link RECENT_BACKUPS_LISTED}. */
	recent: RecentBackup[];
	/** The newest backup (null when there is none). */
	lastBackup: {id: string; finishedAt: string} | null;
	/**
	 * The newest passing restore drill among every verification record of the backups (a drill
	 * behind a later plain verify counts), as `msdb health` finds it; null when none.
	 */
	lastVerifiedRestore: {backupId: string; verifiedAt: string} | null;
	/** Folders without a manifest (runs in progress or dead). */
	incomplete: number;
	/** Invalid manifests or verification records. */
	problems: number;
};

/** The fleet as the console shows it: the reading, and the cache rates over the last heartbeat interval. */
export type DashboardFleet = FleetReading & {
	/**
	 * Per namespace (in `totals.caches` order), the hit rates between each instance's two latest
	 * heartbeats, or since the processes started where that cannot be had (see CacheHitRateTracker).
	 */
	cacheRates: NamespaceHitRates[];
};

/** Backups listed in {@link BackupsOverview.recent}. */
export const RECENT_BACKUPS_LISTED = 50;

/** Everything the console shows at one moment. */
export type DashboardSnapshot = {
	header: DashboardHeader;
	/** The latest PostgreSQL sample; null before the first, while the last poll failed, or when not configured. */
	postgres: PostgresSample | null;
	redis: RedisSample | null;
	/** The live framework instances' heartbeats; null before the first read or while it fails. */
	fleet: DashboardFleet | null;
	/** Kept through a failed check (with its error beside it): it changes only when someone migrates. */
	migrations: MigrationsOverview | null;
	/** Kept through a failed listing, as migrations. */
	backups: BackupsOverview | null;
	/** Why a source has no (fresh) data, credentials masked; absent when it is fine or not configured. */
	errors: Partial<Record<DashboardSource, string>>;
	/** Which sources the console was given; a panel of a missing one says how to configure it. */
	configured: Record<DashboardSource, boolean>;
	/** When each source last answered. */
	updatedAt: Partial<Record<DashboardSource, Date>>;
	/** Pause between polls of the live gauges, ms. */
	intervalMs: number;
	paused: boolean;
	/** When this snapshot was made. */
	takenAt: Date;
};

/** Receives every {@link DashboardSnapshot}. */
export type DashboardListener = (snapshot: DashboardSnapshot) => void;

/**
 * What the console's views need from a dashboard: the latest snapshot, a subscription, and the
 * controls behind its keys. {@link DashboardModel} is the real one; tests of pure rendering may
 * pass snapshots of their own.
 */
export type DashboardFeed = {
	/** The latest snapshot; the same object until the next one is emitted. */
	readonly latest: DashboardSnapshot;
	/** Calls `listener` with every new snapshot; returns the unsubscribe. */
	subscribe(listener: DashboardListener): () => void;
	/** Stops polling until `resume()` (the space key); nothing is sent to any server meanwhile. */
	pause(): void;
	/** Polls every source at once and carries on. */
	resume(): void;
	/** Changes the live gauges' interval (the `+`/`-` keys). */
	setInterval(intervalMs: number): void;
	/** Re-reads what a guided flow may have changed (migrations, backups) now. */
	refreshNow(): void;
};
