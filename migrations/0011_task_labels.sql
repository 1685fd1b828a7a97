-- Tasks gain free-form labels (team, feature, customer) that dashboards filter on with
-- "labels @> ARRAY['billing']". A constant default keeps ADD COLUMN instant (no table rewrite).
ALTER TABLE tasks.tasks ADD COLUMN labels text[] NOT NULL DEFAULT '{}';
CREATE INDEX tasks_labels_gin ON tasks.tasks USING gin (labels);
