-- The durable copy of sessions (the live ones are in Redis). Only a SHA-256 of each token is
-- stored, never the token, so a leaked dump or backup opens no session.

CREATE TABLE sessions.sessions (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	token_hash bytea NOT NULL,
	user_id public.non_empty_text NOT NULL,
	agent_id uuid REFERENCES agents.agents (id) ON DELETE CASCADE,
	data jsonb NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT now(),
	last_seen_at timestamptz NOT NULL DEFAULT now(),
	-- Sliding idle expiry, and the absolute lifetime cap it can never pass.
	expires_at timestamptz NOT NULL,
	absolute_expires_at timestamptz NOT NULL,
	CONSTRAINT sessions_token_hash_key UNIQUE (token_hash),
	CONSTRAINT sessions_token_hash_is_sha256 CHECK (octet_length(token_hash) = 32),
	CONSTRAINT sessions_expiry_order CHECK (expires_at > created_at AND expires_at <= absolute_expires_at),
	CONSTRAINT sessions_data_is_object CHECK (jsonb_typeof(data) = 'object')
);
COMMENT ON TABLE sessions.sessions IS 'Durable sessions; token_hash = sha256(token), the token itself is never stored';

-- Cleanup deletes expired sessions in expiry order; listing a user's sessions needs user_id.
CREATE INDEX sessions_expires_at_idx ON sessions.sessions (expires_at);
CREATE INDEX sessions_user_idx ON sessions.sessions (user_id, last_seen_at DESC);
