-- Tasks: the work queue. Workers take the next queued tasks by priority; a sweeper finds the
-- overdue ones. Both questions have a partial index that holds only the rows they ask about,
-- so they stay fast when the table is mostly finished work.

CREATE TABLE tasks.tasks (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	title public.non_empty_text NOT NULL,
	status tasks.task_status NOT NULL DEFAULT 'queued',
	priority public.priority NOT NULL DEFAULT 5,
	assigned_agent_id uuid REFERENCES agents.agents (id) ON DELETE SET NULL,
	parent_task_id uuid REFERENCES tasks.tasks (id) ON DELETE CASCADE,
	payload jsonb NOT NULL DEFAULT '{}',
	result jsonb,
	last_error text,
	attempts integer NOT NULL DEFAULT 0,
	max_attempts integer NOT NULL DEFAULT 3,
	-- Not before: a retried task is queued again with a later scheduled_at (backoff).
	scheduled_at timestamptz NOT NULL DEFAULT now(),
	deadline_at timestamptz,
	started_at timestamptz,
	finished_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	row_version bigint NOT NULL DEFAULT 1,
	CONSTRAINT tasks_not_own_parent CHECK (parent_task_id <> id),
	CONSTRAINT tasks_attempts_range CHECK (attempts >= 0 AND max_attempts >= 1 AND attempts <= max_attempts),
	CONSTRAINT tasks_payload_is_object CHECK (jsonb_typeof(payload) = 'object'),
	CONSTRAINT tasks_finished_after_started CHECK (finished_at IS NULL OR started_at IS NULL OR finished_at >= started_at)
);
COMMENT ON TABLE tasks.tasks IS 'Work items; the queue is the queued rows ordered by priority, then scheduled_at';

-- "Next queued tasks by priority": WHERE status = 'queued' ORDER BY priority DESC, scheduled_at.
CREATE INDEX tasks_queue_idx ON tasks.tasks (priority DESC, scheduled_at, id) WHERE status = 'queued';
-- "Overdue tasks": unfinished tasks past their deadline.
CREATE INDEX tasks_overdue_idx ON tasks.tasks (deadline_at)
	WHERE status IN ('queued', 'running', 'blocked') AND deadline_at IS NOT NULL;
-- What an agent is working on; and the foreign keys' other side, so deletes do not scan.
CREATE INDEX tasks_assigned_agent_idx ON tasks.tasks (assigned_agent_id) WHERE assigned_agent_id IS NOT NULL;
CREATE INDEX tasks_parent_idx ON tasks.tasks (parent_task_id) WHERE parent_task_id IS NOT NULL;

CREATE TRIGGER tasks_touch_row_version BEFORE UPDATE ON tasks.tasks
	FOR EACH ROW EXECUTE FUNCTION public.touch_row_version();
