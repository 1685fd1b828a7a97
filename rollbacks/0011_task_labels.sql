DROP INDEX tasks.tasks_labels_gin;
ALTER TABLE tasks.tasks DROP COLUMN labels;
