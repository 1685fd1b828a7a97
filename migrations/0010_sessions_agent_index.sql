-- msdb:no-transaction
-- Sessions are looked up by agent now (revoking every session of a retired agent). The table is
-- live and large in production, so the index is built CONCURRENTLY: no write is blocked while
-- it builds. That cannot run inside a transaction, hence the directive above.
CREATE INDEX CONCURRENTLY IF NOT EXISTS sessions_agent_idx ON sessions.sessions (agent_id) WHERE agent_id IS NOT NULL;
