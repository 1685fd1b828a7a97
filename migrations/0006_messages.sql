-- Messages: by far the largest and fastest-growing table, range-partitioned by month on
-- created_at so old months can be detached and archived whole, and month-bounded queries read
-- one partition. Rows for months without a partition land in the default partition.
--
-- The migration creates no monthly partitions itself: the schema must not depend on the date it
-- was applied. Call messages.ensure_partitions(n) after migrating, and then regularly (the msdb
-- worker does), to keep the current month and the next n ready.

CREATE TABLE messages.messages (
	id uuid NOT NULL DEFAULT gen_random_uuid(),
	conversation_id uuid NOT NULL,
	-- A reply thread inside the conversation; NULL for the conversation's main line.
	thread_id uuid,
	sender_agent_id uuid REFERENCES agents.agents (id) ON DELETE SET NULL,
	role messages.message_role NOT NULL,
	priority messages.message_priority NOT NULL DEFAULT 'normal',
	content text NOT NULL,
	metadata jsonb NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT now(),
	-- The partition key must be part of every unique constraint on a partitioned table.
	PRIMARY KEY (id, created_at),
	CONSTRAINT messages_metadata_is_object CHECK (jsonb_typeof(metadata) = 'object')
) PARTITION BY RANGE (created_at);
COMMENT ON TABLE messages.messages IS 'Conversation messages, one partition per month (UTC) plus a default';

CREATE TABLE messages.messages_default PARTITION OF messages.messages DEFAULT;

CREATE INDEX messages_conversation_idx ON messages.messages (conversation_id, created_at);
CREATE INDEX messages_thread_idx ON messages.messages (thread_id, created_at) WHERE thread_id IS NOT NULL;
CREATE INDEX messages_sender_idx ON messages.messages (sender_agent_id) WHERE sender_agent_id IS NOT NULL;
-- Time-range scans inside a partition (and of the default partition) without a large btree.
CREATE INDEX messages_created_at_brin ON messages.messages USING brin (created_at);

-- Creates the partitions for the current month (UTC) and the next months_ahead months that do
-- not exist yet, and returns their names. Safe to run any number of times, concurrently too.
-- It moves nothing: a month whose rows already sit in the default partition is skipped with a
-- warning, because creating its partition would mean rewriting those rows under a lock.
CREATE FUNCTION messages.ensure_partitions(months_ahead integer) RETURNS SETOF text
LANGUAGE plpgsql AS $body$
DECLARE
	first_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
	month_start date;
	month_end date;
	partition_name text;
BEGIN
	IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
		RAISE EXCEPTION 'months_ahead must be between 0 and 120, got %', months_ahead
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- Two callers at once would both see a month missing and the second CREATE would fail.
	PERFORM pg_advisory_xact_lock(hashtext('messages.ensure_partitions'));

	FOR month_offset IN 0..months_ahead LOOP
		month_start := (first_month + make_interval(months => month_offset))::date;
		month_end := (month_start + interval '1 month')::date;
		partition_name := format('messages_y%sm%s', to_char(month_start, 'YYYY'), to_char(month_start, 'MM'));
		CONTINUE WHEN to_regclass(format('messages.%I', partition_name)) IS NOT NULL;

		IF EXISTS (
			SELECT 1 FROM messages.messages_default
			WHERE created_at >= month_start::timestamp AT TIME ZONE 'UTC'
			  AND created_at < month_end::timestamp AT TIME ZONE 'UTC'
		) THEN
			RAISE WARNING 'messages.%: not created, the default partition holds rows for that month', partition_name
				USING HINT = 'Move those rows out of messages.messages_default, then run ensure_partitions again.';
			CONTINUE;
		END IF;

		EXECUTE format(
			'CREATE TABLE messages.%I PARTITION OF messages.messages FOR VALUES FROM (%L) TO (%L)',
			partition_name,
			format('%s 00:00:00+00', month_start),
			format('%s 00:00:00+00', month_end)
		);
		RETURN NEXT partition_name;
	END LOOP;
END;
$body$;
