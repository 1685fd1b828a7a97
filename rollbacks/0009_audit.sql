DROP TRIGGER documents_audit ON knowledge.documents;
DROP TRIGGER dependencies_audit ON tasks.dependencies;
DROP TRIGGER tasks_audit ON tasks.tasks;
DROP TRIGGER agents_audit ON agents.agents;
DROP TABLE audit.events;
DROP FUNCTION audit.refuse_change();
DROP FUNCTION audit.record_change();
