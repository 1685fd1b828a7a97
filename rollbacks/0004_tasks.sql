DROP TABLE tasks.tasks;
