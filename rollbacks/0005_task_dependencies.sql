DROP TABLE tasks.dependencies;
DROP FUNCTION tasks.refuse_dependency_cycle();
