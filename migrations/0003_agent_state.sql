-- The durable copy of each agent's working state. The dual-store coordinator keeps it in step
-- with Redis: writers upsert with "WHERE agents.state.version < EXCLUDED.version", so a version
-- never goes backwards however late a write arrives.

CREATE TABLE agents.state (
	agent_id uuid PRIMARY KEY REFERENCES agents.agents (id) ON DELETE CASCADE,
	state jsonb NOT NULL DEFAULT '{}',
	version bigint NOT NULL DEFAULT 0,
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT state_version_not_negative CHECK (version >= 0)
);
COMMENT ON TABLE agents.state IS 'Agent working state, mirrored in Redis; version only increases';

-- Reconciliation walks the table in updated_at order, in batches.
CREATE INDEX state_updated_at_idx ON agents.state (updated_at);
