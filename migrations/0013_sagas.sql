-- Sagas: work spanning several steps (and often several services) where each step that changes
-- something has an undo, its compensation. The coordinator writes every transition here before
-- and after it acts, so a coordinator that dies mid-saga leaves behind exactly what another one
-- needs to finish the job once the dead one's lease has expired: the input, which steps are done
-- (with their results, the compensations' input), and which step was interrupted.

CREATE SCHEMA coordination;
COMMENT ON SCHEMA coordination IS 'Sagas: their steps, a log of every transition, and idempotency keys';

CREATE TYPE coordination.saga_status AS ENUM ('running', 'compensating', 'completed', 'compensated', 'failed');
CREATE TYPE coordination.saga_step_status AS ENUM (
	'pending', 'running', 'done', 'failed', 'compensating', 'compensated', 'compensation_failed'
);

CREATE TABLE coordination.sagas (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	-- The definition's name: a coordinator resumes only sagas whose code it has registered.
	name public.non_empty_text NOT NULL,
	status coordination.saga_status NOT NULL DEFAULT 'running',
	input jsonb NOT NULL DEFAULT 'null',
	-- The coordinator driving the saga; kept after it finishes, to show who finished it.
	owner public.non_empty_text NOT NULL,
	-- The owner's own lease, so coordinators configured differently still judge each other right.
	lease_ms integer NOT NULL,
	heartbeat_at timestamptz NOT NULL DEFAULT now(),
	-- heartbeat_at + lease_ms, stored so "whose lease expired" is an index range scan.
	lease_expires_at timestamptz NOT NULL,
	-- The step whose failure turned the saga to compensation, and why.
	failed_step integer,
	error text,
	created_at timestamptz NOT NULL DEFAULT now(),
	-- The last transition (heartbeats do not count).
	updated_at timestamptz NOT NULL DEFAULT now(),
	finished_at timestamptz,
	CONSTRAINT sagas_lease_positive CHECK (lease_ms > 0),
	CONSTRAINT sagas_finished_when_final CHECK ((finished_at IS NOT NULL) = (status IN ('completed', 'compensated', 'failed')))
);
COMMENT ON TABLE coordination.sagas IS 'One row per saga run; running and compensating sagas whose lease expired are resumed by another coordinator';

-- "Sagas to resume": unfinished ones whose owner stopped renewing its lease. Reads only the
-- unfinished rows, in expiry order, however many finished sagas the table holds.
CREATE INDEX sagas_resumable_idx ON coordination.sagas (lease_expires_at) WHERE status IN ('running', 'compensating');
-- "Sagas that need a person": a compensation failed for good.
CREATE INDEX sagas_failed_idx ON coordination.sagas (updated_at) WHERE status = 'failed';
-- A definition's runs, newest first.
CREATE INDEX sagas_name_created_idx ON coordination.sagas (name, created_at);

CREATE TABLE coordination.saga_steps (
	saga_id uuid NOT NULL REFERENCES coordination.sagas (id) ON DELETE CASCADE,
	step_index integer NOT NULL,
	name public.non_empty_text NOT NULL,
	status coordination.saga_step_status NOT NULL DEFAULT 'pending',
	-- <saga id>:<step index>:<step name>: the same on every attempt, so what the step calls can
	-- recognise a retry.
	idempotency_key text NOT NULL UNIQUE,
	attempts integer NOT NULL DEFAULT 0,
	compensation_attempts integer NOT NULL DEFAULT 0,
	-- What run() returned (JSON): compensate() receives it.
	result jsonb,
	error text,
	compensation_error text,
	started_at timestamptz,
	finished_at timestamptz,
	compensated_at timestamptz,
	PRIMARY KEY (saga_id, step_index),
	CONSTRAINT saga_steps_index_range CHECK (step_index >= 0),
	CONSTRAINT saga_steps_attempts_range CHECK (attempts >= 0 AND compensation_attempts >= 0)
);
COMMENT ON TABLE coordination.saga_steps IS 'Every step of every saga, created pending when the saga starts';

-- Append-only by convention, not by trigger: deleting a finished saga (retention) cascades here.
CREATE TABLE coordination.saga_events (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	saga_id uuid NOT NULL REFERENCES coordination.sagas (id) ON DELETE CASCADE,
	-- NULL for the saga's own transitions.
	step_index integer,
	step_name text,
	event text NOT NULL,
	-- The saga's or the step's status after the event.
	status text NOT NULL,
	attempt integer,
	owner text NOT NULL,
	error text,
	details jsonb,
	-- clock_timestamp(), not now(): several events of one transaction stay in order.
	occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	CONSTRAINT saga_events_event_check CHECK (event IN (
		'saga:started', 'saga:claimed', 'saga:compensating', 'saga:completed', 'saga:compensated', 'saga:failed',
		'saga:compensation-retry',
		'step:running', 'step:attempt-failed', 'step:done', 'step:failed',
		'step:compensating', 'step:compensation-attempt-failed', 'step:compensated', 'step:compensation-failed'
	)),
	CONSTRAINT saga_events_step_matches_event CHECK ((step_index IS NULL) = (event LIKE 'saga:%'))
);
COMMENT ON TABLE coordination.saga_events IS 'The saga log: every transition of every saga and step, in order';

CREATE INDEX saga_events_saga_idx ON coordination.saga_events (saga_id, id);

-- Keys a step recorded with ctx.once() in the same transaction as its database work: a retried
-- step finds its key and gets the recorded result instead of applying the work again. Keys
-- outlive the saga that wrote them (a caller may retry with a new saga).
CREATE TABLE coordination.idempotency_keys (
	key public.non_empty_text PRIMARY KEY,
	saga_id uuid REFERENCES coordination.sagas (id) ON DELETE SET NULL,
	step_index integer,
	result jsonb,
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE coordination.idempotency_keys IS 'Work applied once: the key, who applied it and what it returned';

-- Pruning old keys; and the foreign key's other side, so deleting a saga does not scan.
CREATE INDEX idempotency_keys_created_idx ON coordination.idempotency_keys (created_at);
CREATE INDEX idempotency_keys_saga_idx ON coordination.idempotency_keys (saga_id) WHERE saga_id IS NOT NULL;
