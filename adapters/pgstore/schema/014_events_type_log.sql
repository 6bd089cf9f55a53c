-- Filtered reads of the log (ReadAllFiltered): a tenant's events of one
-- type in log order, so a reader of a few types scans only their entries,
-- one index range per type merged in log order, instead of the whole log.
CREATE INDEX IF NOT EXISTS events_type_log ON {{schema}}.events (tenant_id, type, transaction_id, global_position);
