-- Agents: identity, kind, lifecycle status, and what they can do (capabilities) and how they
-- are set up (config), both JSONB objects searched by containment (@>).

CREATE TABLE agents.agents (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	name public.non_empty_text NOT NULL,
	kind agents.agent_kind NOT NULL,
	status agents.agent_status NOT NULL DEFAULT 'starting',
	capabilities jsonb NOT NULL DEFAULT '{}',
	config jsonb NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	row_version bigint NOT NULL DEFAULT 1,
	CONSTRAINT agents_name_key UNIQUE (name),
	CONSTRAINT agents_capabilities_is_object CHECK (jsonb_typeof(capabilities) = 'object'),
	CONSTRAINT agents_config_is_object CHECK (jsonb_typeof(config) = 'object')
);
COMMENT ON TABLE agents.agents IS 'One row per agent; row_version increases on every update';

-- jsonb_path_ops: smaller and faster for the @> containment queries capabilities are used for.
CREATE INDEX agents_capabilities_gin ON agents.agents USING gin (capabilities jsonb_path_ops);
-- Default jsonb_ops on config: also serves key-existence queries (config ? 'model').
CREATE INDEX agents_config_gin ON agents.agents USING gin (config);
CREATE INDEX agents_kind_status_idx ON agents.agents (kind, status);

CREATE TRIGGER agents_touch_row_version BEFORE UPDATE ON agents.agents
	FOR EACH ROW EXECUTE FUNCTION public.touch_row_version();
