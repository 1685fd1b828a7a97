/**
 * Dual-store coordination of agent state (`agents.state` and its Redis copy): the coordinator
 * with its four consistency levels, the relays `msdb worker` runs, the Redis layout and the
 * metrics. What source/index.ts re-exports (the events publisher and reconciliation are exported
 * there from their own files).
 */
export {CONSISTENCY_LEVELS} from './consistency-level.js';
export type {ConsistencyLevel} from './consistency-level.js';
export {DualStoreCoordinator, DEFAULT_EVENTUAL_TTL_MS, TOMBSTONE_TTL_MS} from './dual-store-coordinator.js';
export type {AgentStateRead, AgentStateWriteOptions, AgentStateWriteResult, DualStoreCoordinatorOptions, DualStoreStats} from './dual-store-coordinator.js';
export {OutboxRelay, DEFAULT_RELAY_BATCH_SIZE, rewarmMarkerKey} from './outbox-relay.js';
export type {OutboxDrainOutcome, OutboxRelayOptions, OutboxRelayStats, StateChangePublisher} from './outbox-relay.js';
export {WriteBehindWriter, WRITE_BEHIND_GROUP, DEFAULT_CLAIM_IDLE_MS} from './write-behind-writer.js';
export type {PersistedEntry, WriteBehindDrainOutcome, WriteBehindStats, WriteBehindWriterOptions} from './write-behind-writer.js';
export {registerAgentStateMetrics, readAgentStateBacklog, RELAY_COUNTS} from './dual-store-metrics.js';
export type {AgentStateBacklog, RelayCount} from './dual-store-metrics.js';
export {
	AGENT_STATE_PARTITIONS,
	AGENT_STATE_REDIS_ROLE,
	agentStateKey,
	agentStateLogKey,
	agentStateEventsKey,
	agentStatePartition,
	agentStateSubject,
	stateContentHash,
} from './agent-state-layout.js';
