/**
 * `msdb sandbox up|down|status`: PostgreSQL, Redis and an S3 endpoint for local use that outlive
 * the command, with their state in `<cwd>/.msdb/sandbox/`.
 */
export {sandboxUp} from './sandbox-up.js';
export type {SandboxOptions, SandboxUpResult} from './sandbox-up.js';
export {sandboxDown} from './sandbox-down.js';
export type {SandboxDownOptions, SandboxDownResult} from './sandbox-down.js';
export {sandboxStatus} from './sandbox-status.js';
export type {SandboxServiceStatus, SandboxStatus, SandboxStatusOptions} from './sandbox-status.js';
export {SANDBOX_BUCKET, sandboxEnvironment, shellExports} from './sandbox-environment.js';
export type {SandboxEnvironment} from './sandbox-environment.js';
export {SANDBOX_DIRECTORY, sandboxPaths} from './sandbox-paths.js';
export type {SandboxPaths} from './sandbox-paths.js';
export type {SandboxBackend, SandboxServiceName} from './sandbox-state.js';
export {SANDBOX_POSTGRES_PORT, SANDBOX_DATABASE} from './local-sandbox-postgres.js';
export {SANDBOX_REDIS_PORT} from './local-sandbox-redis.js';
export {SANDBOX_S3_PORT} from './local-sandbox-s3.js';
