-- Audit: who changed what in the key tables, as an append-only log the database itself
-- protects. The actor is the application's user for the change: set it per transaction with
--   SET LOCAL msdb.actor = 'alice';   (or set_config('msdb.actor', 'alice', true))
-- and it falls back to the database user when the application did not say.

CREATE TABLE audit.events (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	occurred_at timestamptz NOT NULL DEFAULT now(),
	actor text NOT NULL,
	database_user text NOT NULL DEFAULT session_user,
	operation text NOT NULL,
	schema_name text NOT NULL,
	table_name text NOT NULL,
	old_row jsonb,
	new_row jsonb,
	transaction_id bigint NOT NULL DEFAULT txid_current(),
	CONSTRAINT events_operation_check CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
	CONSTRAINT events_rows_match_operation CHECK (
		(operation = 'INSERT' AND old_row IS NULL AND new_row IS NOT NULL)
		OR (operation = 'UPDATE' AND old_row IS NOT NULL AND new_row IS NOT NULL)
		OR (operation = 'DELETE' AND old_row IS NOT NULL AND new_row IS NULL)
	)
);
COMMENT ON TABLE audit.events IS 'Append-only: UPDATE, DELETE and TRUNCATE are refused by triggers';

CREATE INDEX events_table_time_idx ON audit.events (schema_name, table_name, occurred_at);
CREATE INDEX events_actor_time_idx ON audit.events (actor, occurred_at);

-- SECURITY DEFINER so application roles can be audited without being allowed to write (or
-- forge) audit rows themselves; the fixed search_path keeps that safe.
CREATE FUNCTION audit.record_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
BEGIN
	IF TG_OP = 'UPDATE' AND OLD IS NOT DISTINCT FROM NEW THEN
		RETURN NULL;
	END IF;

	INSERT INTO audit.events (actor, operation, schema_name, table_name, old_row, new_row)
	VALUES (
		coalesce(nullif(current_setting('msdb.actor', true), ''), session_user),
		TG_OP,
		TG_TABLE_SCHEMA,
		TG_TABLE_NAME,
		CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END,
		CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END
	);
	RETURN NULL;
END;
$body$;

CREATE FUNCTION audit.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $body$
BEGIN
	RAISE EXCEPTION 'audit.events is append-only: % is not allowed', TG_OP
		USING ERRCODE = 'insufficient_privilege', HINT = 'Audit rows are evidence; they are never changed or removed.';
END;
$body$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON audit.events
	FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON audit.events
	FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON audit.events FROM PUBLIC;

-- The key tables. agents.state and messages are left out on purpose: they change many times a
-- second and their history is the messages themselves / the state stream.
CREATE TRIGGER agents_audit AFTER INSERT OR UPDATE OR DELETE ON agents.agents
	FOR EACH ROW EXECUTE FUNCTION audit.record_change();
CREATE TRIGGER tasks_audit AFTER INSERT OR UPDATE OR DELETE ON tasks.tasks
	FOR EACH ROW EXECUTE FUNCTION audit.record_change();
CREATE TRIGGER dependencies_audit AFTER INSERT OR UPDATE OR DELETE ON tasks.dependencies
	FOR EACH ROW EXECUTE FUNCTION audit.record_change();
CREATE TRIGGER documents_audit AFTER INSERT OR UPDATE OR DELETE ON knowledge.documents
	FOR EACH ROW EXECUTE FUNCTION audit.record_change();
