DROP TABLE coordination.idempotency_keys;
DROP TABLE coordination.saga_events;
DROP TABLE coordination.saga_steps;
DROP TABLE coordination.sagas;
DROP TYPE coordination.saga_step_status;
DROP TYPE coordination.saga_status;
DROP SCHEMA coordination;
