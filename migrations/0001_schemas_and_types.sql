-- The six schemas of the agent framework's domain, and the types they share.
-- Types come first so every later table can use them; each enum lives in the schema that owns
-- the concept, the two cross-cutting domains and the row-version trigger in public.

CREATE SCHEMA agents;
COMMENT ON SCHEMA agents IS 'Agents, their configuration and their live state';
CREATE SCHEMA tasks;
COMMENT ON SCHEMA tasks IS 'Work items, their queue and their dependencies';
CREATE SCHEMA messages;
COMMENT ON SCHEMA messages IS 'Conversation messages, partitioned by month';
CREATE SCHEMA sessions;
COMMENT ON SCHEMA sessions IS 'Durable copy of user and agent sessions (token hashes only)';
CREATE SCHEMA knowledge;
COMMENT ON SCHEMA knowledge IS 'Documents and chunks for full-text retrieval';
CREATE SCHEMA audit;
COMMENT ON SCHEMA audit IS 'Append-only record of changes to the key tables';

CREATE TYPE agents.agent_status AS ENUM ('starting', 'idle', 'busy', 'paused', 'stopping', 'offline', 'failed');
CREATE TYPE agents.agent_kind AS ENUM ('coordinator', 'planner', 'executor', 'researcher', 'reviewer', 'tool');
CREATE TYPE tasks.task_status AS ENUM ('queued', 'running', 'blocked', 'succeeded', 'failed', 'cancelled');
CREATE TYPE messages.message_role AS ENUM ('system', 'user', 'agent', 'tool');
CREATE TYPE messages.message_priority AS ENUM ('low', 'normal', 'high', 'urgent');

-- Names, titles and content must say something: '' and '   ' are refused by the database.
CREATE DOMAIN public.non_empty_text AS text
	CONSTRAINT non_empty_text_check CHECK (btrim(VALUE) <> '');

-- 0 (lowest) to 10 (highest).
CREATE DOMAIN public.priority AS smallint
	CONSTRAINT priority_range_check CHECK (VALUE BETWEEN 0 AND 10);

-- Keeps updated_at and the optimistic-concurrency row_version right on every UPDATE, whatever
-- the writer remembers to set.
CREATE FUNCTION public.touch_row_version() RETURNS trigger
LANGUAGE plpgsql AS $body$
BEGIN
	NEW.updated_at := now();
	NEW.row_version := OLD.row_version + 1;
	RETURN NEW;
END;
$body$;
