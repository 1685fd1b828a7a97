/**
 * The load generator behind `msdb load`: a paced workload of agent reads through the cache,
 * sessions, tasks, messages and state writes, through the core library. Headless.
 */
export {runLoad, LOAD_CACHE_NAMESPACE} from './run-load.js';
export type {LoadContext} from './run-load.js';
export {LOAD_DEFAULTS, LOAD_SERVICE, resolveLoadOptions} from './load-options.js';
export type {LoadOptions, ResolvedLoadOptions} from './load-options.js';
export type {LoadCacheSummary, LoadSummary, OperationSummary} from './load-summary.js';
export {DEFAULT_WORKLOAD_MIX, OPERATION_KINDS, WorkloadPicker} from './workload-mix.js';
export type {OperationKind, WorkloadMix, WorkloadShare} from './workload-mix.js';
export {OpenLoopPacer} from './open-loop-pacer.js';
export type {PacerCounts, PacerOptions} from './open-loop-pacer.js';
export {LOAD_AGENT_PREFIX, checkLoadSchema, loadAgentName, seedLoad} from './seed.js';
export type {SeedResult} from './seed.js';
export {LOAD_QUERIES, LOAD_TASK_LABEL} from './load-operations.js';
