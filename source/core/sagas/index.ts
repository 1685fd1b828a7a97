/**
 * Sagas: steps with compensations, run by a SagaCoordinator that logs every transition in
 * PostgreSQL (schema `coordination`, migration 0013), so a saga whose coordinator died is resumed
 * or compensated by another one. Headless; what source/index.ts re-exports for framework services.
 */
export {SagaCoordinator, DEFAULT_LEASE_MS, DEFAULT_RETRY_DELAY_MS} from './saga-coordinator.js';
export type {SagaCoordinatorOptions, SagaOutcome, ResumeReport} from './saga-coordinator.js';
export {defineSaga, sagaStep, stepIdempotencyKey, DEFAULT_COMPENSATION_RETRIES} from './saga-definition.js';
export type {SagaDefinition, SagaDefinitionInput, SagaStep, SagaStepContext, SagaDatabase} from './saga-definition.js';
export {SAGA_SQL} from './saga-log.js';
export type {SagaEvent, SagaEventName, SagaHistory, SagaRecord, SagaStatus, SagaStepRecord, SagaStepStatus} from './saga-log.js';
