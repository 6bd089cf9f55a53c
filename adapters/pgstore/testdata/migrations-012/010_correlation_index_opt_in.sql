-- The index on correlation IDs (version 8) is opt-in: CreateCorrelationIndex
-- builds it. It cost every append one more index insert, about 100 bytes of
-- WAL and 5% of the appends per second on the benchmark machine, for a
-- lookup only operators' tools make (EventsByCorrelation, the console).
-- EventStoreDB's $by_correlation_id projection and Marten's correlation
-- tracking are off by default for the same reason.
DROP INDEX IF EXISTS {{schema}}.events_correlation_id;
