DROP FUNCTION agents.write_behind_base_version(uuid);
DROP TABLE agents.state_outbox;
