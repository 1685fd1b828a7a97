/**
 * The Redis half of backups: RDB over the replication protocol (or dump mode), streaming parse
 * with key counts and CRC64, restore by RESTORE … ABSTTL REPLACE into standalone or cluster
 * targets, and artifact verification. Headless.
 */
export {backupRedis} from './redis-backup.js';
export type {BackupRedisOptions, RedisBackupMode} from './redis-backup.js';
export {restoreRedis} from './redis-restore.js';
export type {RedisRestoreResult, RestoreRedisOptions} from './redis-restore.js';
export {verifyRedisArtifact} from './redis-verify.js';
export type {RedisArtifactVerification, RedisVerificationProblem, VerifyRedisArtifactOptions} from './redis-verify.js';
export {fetchRdb} from './rdb-fetch.js';
export type {RdbFetch, RdbFetchOptions} from './rdb-fetch.js';
export {RdbParser} from './rdb-parser.js';
export type {RdbParserOptions} from './rdb-parser.js';
export {DumpStreamParser} from './dump-stream-parser.js';
export {createRedisArtifactParser} from './redis-artifact-parser.js';
export type {RedisArtifactHandlers, RedisArtifactParser, RedisArtifactSummary, RedisFunctionsRecord, RedisKeyRecord} from './redis-key-record.js';
export {buildDumpPayload, readDumpTrailer} from './dump-payload.js';
export {crc64, Crc64} from './crc64.js';
export {MAX_RDB_VERSION, MIN_RDB_VERSION, rdbVersionForServer} from './rdb-format.js';
export type {RedisValueType} from './rdb-format.js';
export {readTargetRdbVersion} from './redis-server-facts.js';
