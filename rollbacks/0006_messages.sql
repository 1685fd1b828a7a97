-- Dropping the parent drops every monthly partition ensure_partitions created, and the default.
DROP FUNCTION messages.ensure_partitions(integer);
DROP TABLE messages.messages;
