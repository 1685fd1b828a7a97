-- msdb:no-transaction
DROP INDEX CONCURRENTLY IF EXISTS sessions.sessions_agent_idx;
