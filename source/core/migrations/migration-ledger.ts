import os from 'node:os';
import type pg from 'pg';
import {sqlLiteral, sqlValues} from '../database/sql-literal.js';
import {toolVersion} from '../tool-version.js';
import type {MigrationFile} from './migration-source.js';

/**
 * The ledger (`__ms_migrations`: what is applied), its append-only history
 * (`__ms_migrations_history`: every apply, rollback, reset, accept and baseline, who, when, how
 * long, outcome) and the catalog snapshots drift and reset compare against
 * (`__ms_catalog_snapshots`). All live in `public`, always schema-qualified, so a migration that
 * changes `search_path` cannot send ledger writes elsewhere.
 */

export const LEDGER_TABLE = 'public.__ms_migrations';
export const HISTORY_TABLE = 'public.__ms_migrations_history';
export const SNAPSHOT_TABLE = 'public.__ms_catalog_snapshots';
/** Every object msdb itself creates starts with this; catalog snapshots leave them out. */
export const MSDB_OBJECT_PREFIX = '__ms_';

const CREATE_LEDGER_SQL = `
CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (
	version bigint PRIMARY KEY,
	name text NOT NULL,
	checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
	applied_at timestamptz NOT NULL DEFAULT now(),
	applied_by text NOT NULL,
	execution_time_ms integer NOT NULL,
	rollback_sql text,
	up_sql text NOT NULL,
	rollback_checksum text,
	no_transaction boolean NOT NULL DEFAULT false,
	method text NOT NULL DEFAULT 'apply' CHECK (method IN ('apply', 'baseline'))
);
CREATE TABLE IF NOT EXISTS ${HISTORY_TABLE} (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	action text NOT NULL CHECK (action IN ('apply', 'rollback', 'reset', 'accept', 'baseline')),
	outcome text NOT NULL CHECK (outcome IN ('succeeded', 'failed')),
	version bigint,
	name text,
	checksum text,
	performed_by text NOT NULL,
	database_user text NOT NULL DEFAULT current_user,
	client_host text,
	tool_version text NOT NULL,
	started_at timestamptz NOT NULL,
	finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	duration_ms integer NOT NULL,
	error jsonb,
	details jsonb
);
CREATE OR REPLACE FUNCTION public.__ms_migrations_history_append_only() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
	RAISE EXCEPTION 'public.__ms_migrations_history is append-only: % is not allowed', TG_OP
		USING ERRCODE = 'insufficient_privilege';
END
$fn$;
DROP TRIGGER IF EXISTS __ms_append_only ON ${HISTORY_TABLE};
CREATE TRIGGER __ms_append_only BEFORE UPDATE OR DELETE ON ${HISTORY_TABLE}
	FOR EACH ROW EXECUTE FUNCTION public.__ms_migrations_history_append_only();
DROP TRIGGER IF EXISTS __ms_append_only_truncate ON ${HISTORY_TABLE};
CREATE TRIGGER __ms_append_only_truncate BEFORE TRUNCATE ON ${HISTORY_TABLE}
	FOR EACH STATEMENT EXECUTE FUNCTION public.__ms_migrations_history_append_only();
CREATE TABLE IF NOT EXISTS ${SNAPSHOT_TABLE} (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind text NOT NULL CHECK (kind IN ('baseline', 'after-apply', 'after-rollback', 'after-baseline', 'after-accept')),
	taken_at timestamptz NOT NULL DEFAULT now(),
	version bigint,
	snapshot jsonb NOT NULL
);
`;

/** One row of the ledger. */
export type AppliedMigration = {
	version: number;
	name: string;
	checksum: string;
	appliedAt: Date;
	appliedBy: string;
	executionTimeMs: number;
	rollbackSql: string | null;
	upSql: string;
	noTransaction: boolean;
	method: 'apply' | 'baseline';
};

export type HistoryAction = 'apply' | 'rollback' | 'reset' | 'accept' | 'baseline';

/** One history row to append. */
export type HistoryEntry = {
	action: HistoryAction;
	outcome: 'succeeded' | 'failed';
	version?: number | undefined;
	name?: string | undefined;
	checksum?: string | undefined;
	performedBy: string;
	startedAt: Date;
	durationMs: number;
	error?: Record<string, unknown> | undefined;
	details?: Record<string, unknown> | undefined;
};

/** What recording an applied migration needs. */
export type AppliedRecord = {
	version: number;
	name: string;
	checksum: string;
	executionTimeMs: number;
	rollbackSql: string | null;
	rollbackChecksum: string | null;
	upSql: string;
	noTransaction: boolean;
	method: 'apply' | 'baseline';
	startedAt: Date;
	details?: Record<string, unknown> | undefined;
};

/** The ledger record for a migration file. */
export function appliedRecordFor(
	file: MigrationFile,
	run: {method: 'apply' | 'baseline'; executionTimeMs: number; startedAt: Date; details?: Record<string, unknown> | undefined},
): AppliedRecord {
	return {
		version: file.version,
		name: file.name,
		checksum: file.checksum,
		rollbackSql: file.rollback?.sql ?? null,
		rollbackChecksum: file.rollback?.checksum ?? null,
		upSql: file.sql,
		noTransaction: file.directives.noTransaction,
		...run,
	};
}

export type SnapshotKind = 'baseline' | 'after-apply' | 'after-rollback' | 'after-baseline' | 'after-accept';

const HISTORY_COLUMNS =
	'action, outcome, version, name, checksum, performed_by, client_host, tool_version, started_at, duration_ms, error, details';

/** Reads and writes the ledger, history and snapshot tables over one client. */
export class MigrationLedger {
	constructor(
		private readonly client: pg.ClientBase,
		private readonly actor: string,
	) {}

	/** True when the ledger table exists; read-only commands never create it. */
	async exists(): Promise<boolean> {
		const result = await this.client.query<{exists: boolean}>(`SELECT to_regclass('${LEDGER_TABLE}') IS NOT NULL AS exists`);
		return result.rows[0]?.exists ?? false;
	}

	/**
	 * Creates the tables when missing, in one transaction. Call only while holding the migration
	 * lock: concurrent `CREATE TABLE IF NOT EXISTS` can still collide in the catalog.
	 * `inCreatingTransaction` runs before COMMIT (the baseline snapshot), so a ledger never
	 * exists without its baseline. Returns true when the ledger was created now.
	 */
	async ensure(inCreatingTransaction?: () => Promise<void>): Promise<boolean> {
		if (await this.exists()) {
			return false;
		}

		await this.client.query(`BEGIN;${CREATE_LEDGER_SQL}`);
		try {
			await inCreatingTransaction?.();
			await this.client.query('COMMIT');
		} catch (error) {
			await this.client.query('ROLLBACK').catch(() => {});
			throw error;
		}

		return true;
	}

	/** Applied migrations, oldest first. Empty when there is no ledger yet. */
	async readApplied(): Promise<AppliedMigration[]> {
		if (!(await this.exists())) {
			return [];
		}

		const result = await this.client.query<{
			version: string;
			name: string;
			checksum: string;
			applied_at: Date;
			applied_by: string;
			execution_time_ms: number;
			rollback_sql: string | null;
			up_sql: string;
			no_transaction: boolean;
			method: 'apply' | 'baseline';
		}>(
			// Ordered by the bigint column, not by the text it is selected as (an ORDER BY name binds
			// to the output column first, and '10' < '9' as text).
			`SELECT ledger.version::text AS version, name, checksum, applied_at, applied_by, execution_time_ms, rollback_sql, up_sql, no_transaction, method
			 FROM ${LEDGER_TABLE} AS ledger ORDER BY ledger.version`,
		);
		return result.rows.map(row => ({
			version: Number(row.version),
			name: row.name,
			checksum: row.checksum,
			appliedAt: row.applied_at,
			appliedBy: row.applied_by,
			executionTimeMs: row.execution_time_ms,
			rollbackSql: row.rollback_sql,
			upSql: row.up_sql,
			noTransaction: row.no_transaction,
			method: row.method,
		}));
	}

	/**
	 * The statement that records a migration as applied: its ledger row and its history row in
	 * one statement, as literals, so the caller can send it with COMMIT in a single message and
	 * applying a file costs fewer round trips than the minimal BEGIN / file / INSERT / COMMIT loop.
	 */
	appliedRecordSql(row: AppliedRecord): string {
		const ledgerValues = sqlValues([
			row.version,
			row.name,
			row.checksum,
			this.actor,
			Math.round(row.executionTimeMs),
			row.rollbackSql,
			row.upSql,
			row.rollbackChecksum,
			row.noTransaction,
			row.method,
		]);
		return `WITH ledger AS (
	INSERT INTO ${LEDGER_TABLE} (version, name, checksum, applied_by, execution_time_ms, rollback_sql, up_sql, rollback_checksum, no_transaction, method)
	VALUES ${ledgerValues}
)
INSERT INTO ${HISTORY_TABLE} (${HISTORY_COLUMNS}) VALUES ${this.historyValues({
			action: row.method,
			outcome: 'succeeded',
			version: row.version,
			name: row.name,
			checksum: row.checksum,
			startedAt: row.startedAt,
			durationMs: row.executionTimeMs,
			details: row.details,
		})}`;
	}

	/** Records a migration as applied inside the caller's transaction. */
	async recordApplied(row: AppliedRecord): Promise<void> {
		await this.client.query(this.appliedRecordSql(row));
	}

	/** The statement that removes a migration from the ledger and records the rollback (see appliedRecordSql). */
	rolledBackRecordSql(row: {version: number; name: string; checksum: string; startedAt: Date; durationMs: number}): string {
		return `WITH ledger AS (
	DELETE FROM ${LEDGER_TABLE} WHERE version = ${sqlLiteral(row.version)}
)
INSERT INTO ${HISTORY_TABLE} (${HISTORY_COLUMNS}) VALUES ${this.historyValues({action: 'rollback', outcome: 'succeeded', ...row})}`;
	}

	/** Appends a history row (failures, resets, accepts, baselines). */
	async appendHistory(entry: Omit<HistoryEntry, 'performedBy'>): Promise<void> {
		await this.client.query(`INSERT INTO ${HISTORY_TABLE} (${HISTORY_COLUMNS}) VALUES ${this.historyValues(entry)}`);
	}

	private historyValues(entry: Omit<HistoryEntry, 'performedBy'>): string {
		return sqlValues([
			entry.action,
			entry.outcome,
			entry.version,
			entry.name,
			entry.checksum,
			this.actor,
			os.hostname(),
			toolVersion(),
			entry.startedAt,
			Math.round(entry.durationMs),
			entry.error ? {json: entry.error} : null,
			entry.details ? {json: entry.details} : null,
		]);
	}

	/** Stores a catalog snapshot; drift compares the live catalog against the newest one. */
	async storeSnapshot(kind: SnapshotKind, version: number | null, snapshot: unknown): Promise<void> {
		await this.client.query(`INSERT INTO ${SNAPSHOT_TABLE} (kind, version, snapshot) VALUES ($1, $2, $3)`, [
			kind,
			version,
			JSON.stringify(snapshot),
		]);
	}

	/** The newest snapshot (any kind), or undefined when none was taken. */
	async latestSnapshot<T>(): Promise<{kind: SnapshotKind; takenAt: Date; version: number | null; snapshot: T} | undefined> {
		return this.readSnapshot<T>('');
	}

	/** The snapshot taken before the first migration ran: what reset returns the database to. */
	async baselineSnapshot<T>(): Promise<{kind: SnapshotKind; takenAt: Date; version: number | null; snapshot: T} | undefined> {
		return this.readSnapshot<T>(`WHERE kind = 'baseline'`);
	}

	private async readSnapshot<T>(
		where: string,
	): Promise<{kind: SnapshotKind; takenAt: Date; version: number | null; snapshot: T} | undefined> {
		const exists = await this.client.query<{exists: boolean}>(`SELECT to_regclass('${SNAPSHOT_TABLE}') IS NOT NULL AS exists`);
		if (!exists.rows[0]?.exists) {
			return undefined;
		}

		const result = await this.client.query<{kind: SnapshotKind; taken_at: Date; version: string | null; snapshot: T}>(
			`SELECT kind, taken_at, version::text, snapshot FROM ${SNAPSHOT_TABLE} ${where} ORDER BY id DESC LIMIT 1`,
		);
		const row = result.rows[0];
		return row
			? {kind: row.kind, takenAt: row.taken_at, version: row.version === null ? null : Number(row.version), snapshot: row.snapshot}
			: undefined;
	}
}

/** Statements that remove the ledger and snapshots but keep the history (reset records itself there). */
export const DROP_LEDGER_SQL = `DROP TABLE IF EXISTS ${LEDGER_TABLE}; DROP TABLE IF EXISTS ${SNAPSHOT_TABLE};`;
