-- Task dependencies: task_id cannot start before depends_on_task_id has succeeded. A task may
-- not depend on itself (a CHECK), nor on anything that depends on it (a trigger walks the graph).

CREATE TABLE tasks.dependencies (
	task_id uuid NOT NULL REFERENCES tasks.tasks (id) ON DELETE CASCADE,
	depends_on_task_id uuid NOT NULL REFERENCES tasks.tasks (id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (task_id, depends_on_task_id),
	CONSTRAINT dependencies_not_self CHECK (task_id <> depends_on_task_id)
);
COMMENT ON TABLE tasks.dependencies IS 'Edges of the task graph, which must stay acyclic';

CREATE INDEX dependencies_depends_on_idx ON tasks.dependencies (depends_on_task_id);

CREATE FUNCTION tasks.refuse_dependency_cycle() RETURNS trigger
LANGUAGE plpgsql AS $body$
BEGIN
	-- A task depending on itself is the CHECK constraint's to refuse, with its own name.
	IF NEW.task_id = NEW.depends_on_task_id THEN
		RETURN NEW;
	END IF;

	-- Serialise graph changes: two transactions adding A→B and B→A concurrently would each
	-- see no cycle.
	PERFORM pg_advisory_xact_lock(hashtext('tasks.dependencies'));
	IF EXISTS (
		WITH RECURSIVE reachable (id) AS (
			SELECT NEW.depends_on_task_id
			UNION
			SELECT d.depends_on_task_id FROM tasks.dependencies d JOIN reachable r ON d.task_id = r.id
		)
		SELECT 1 FROM reachable WHERE id = NEW.task_id
	) THEN
		RAISE EXCEPTION 'task % cannot depend on %: that would make a cycle', NEW.task_id, NEW.depends_on_task_id
			USING ERRCODE = 'check_violation', CONSTRAINT = 'dependencies_acyclic';
	END IF;
	RETURN NEW;
END;
$body$;

CREATE TRIGGER dependencies_acyclic BEFORE INSERT OR UPDATE ON tasks.dependencies
	FOR EACH ROW EXECUTE FUNCTION tasks.refuse_dependency_cycle();
