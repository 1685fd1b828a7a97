/** The PostgreSQL half of backups: dump to a target, verify, restore, drill. */
export {backupPostgres, PG_DUMP_APPLICATION_NAME} from './backup-postgres.js';
export type {PostgresBackupOptions} from './backup-postgres.js';
export {restorePostgres} from './restore-postgres.js';
export type {PostgresRestoreOptions, PostgresRestoreResult} from './restore-postgres.js';
export {verifyPostgresArtifact} from './verify-postgres-artifact.js';
export type {PostgresArtifactVerification, PostgresVerifyOptions, PostgresVerificationProblem} from './verify-postgres-artifact.js';
export {drillPostgres} from './drill-postgres.js';
export type {PostgresDrillOptions, PostgresDrillResult} from './drill-postgres.js';
export {tableContentHashes} from './table-content-hashes.js';
export {compareRowCounts} from './row-count-comparison.js';
export type {RowCountProblem} from './row-count-comparison.js';
export {assertPgDumpCanDump, assertPgRestoreCanRead, serverMajorVersion} from './pg-tool-compatibility.js';
export {findPgTools, selectPgTool} from './pg-tools.js';
export type {PgTool, PgToolName} from './pg-tools.js';
export {libpqEnvironment} from './libpq-environment.js';
export {PG_RESTORE_APPLICATION_NAME} from './restore-into-database.js';
