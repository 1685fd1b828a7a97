-- The outbox of dual-store coordination: a strong or postgres-first write of agents.state adds a
-- row here in the same transaction as the state row, so a change PostgreSQL committed is never
-- forgotten by Redis or by the state-change stream, even when Redis is down or the writing process
-- dies right after its commit. `msdb worker` relays the rows in id order (for one agent that is
-- version order: its writes hold the agents.state row lock while they add their row), brings the
-- Redis copy up to the committed version, publishes the change event, then deletes the row. The
-- state is kept with the row because events carry every version, not only the latest.
--
-- No foreign key to agents.agents: the relay must still see the rows of an agent deleted since,
-- to drop its Redis copy.

CREATE TABLE agents.state_outbox (
	id bigserial PRIMARY KEY,
	agent_id uuid NOT NULL,
	version bigint NOT NULL,
	-- The consistency level of the write: the change event says it.
	level text NOT NULL,
	state jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	-- Failed relay attempts and the last failure's message, for operators; the row stays until relayed.
	attempts integer NOT NULL DEFAULT 0,
	last_error text,
	CONSTRAINT state_outbox_level_check CHECK (level IN ('strong', 'postgres-first')),
	CONSTRAINT state_outbox_version_positive CHECK (version > 0)
);
COMMENT ON TABLE agents.state_outbox IS 'Committed agents.state changes not yet relayed to Redis and the state-change stream';

-- The relay reads the oldest rows first and metrics ask for the age of the oldest row: both walk
-- the primary key. No other index: every strong and postgres-first write pays for each one.

-- The version a redis-first or eventual write continues from when Redis has no copy (never
-- loaded, or lost with a Redis restart), NULL for an agent that does not exist. It first waits
-- for the write-behind writer's lock on that agent: a batch the writer read from Redis before a
-- crash may still be committing, and a version read before that commit would be handed out a
-- second time. VOLATILE, so the SELECT after the lock takes a fresh snapshot and sees that commit.
-- Lock key: (1836278882 = "msdb" in ASCII, one of 1024 buckets of hashtext(agent id)); the writer
-- takes the same keys exclusively for the length of its transaction.
CREATE FUNCTION agents.write_behind_base_version(agent uuid) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
	SELECT pg_advisory_xact_lock_shared(1836278882, hashtext(agent::text) & 1023);
	SELECT CASE WHEN a.id IS NULL THEN NULL ELSE coalesce(s.version, 0) END
	FROM (SELECT agent AS id) wanted
	LEFT JOIN agents.agents a ON a.id = wanted.id
	LEFT JOIN agents.state s ON s.agent_id = wanted.id;
$$;
