-- The events table can keep each stream's versions contiguous and in log
-- order itself, whoever writes to it. The check is created disabled: it
-- costs every append about a third more server CPU (docs/operations.md),
-- so pgstore.EnforceVersionOrder (eventfold migrate --enforce-version-order)
-- turns it on where other tools write to the table. The append functions and the client's
-- exact-version statement already do; a plain INSERT (a migration tool, a
-- DBA, a data fix) went past them, and a gap or a version listed before its
-- predecessor in the log breaks every reader that folds a stream or
-- follows the log.
--
-- A row-level BEFORE INSERT trigger checks each new event against its
-- stream's previous version, one probe of events_stream_version:
--  * version 1 starts a stream (a second version 1 is a unique violation);
--  * any other version v needs version v-1 of the same tenant and stream
--    stored, committed or written earlier in this transaction or statement
--    (SQLSTATE 23514, check_violation, naming the missing version);
--  * version v-1 must come first in the log, (transaction_id,
--    global_position) order: a transaction that took its ID before the one
--    that wrote v-1 gets SQLSTATE 40001, as in 006_stream_order.sql, and
--    retries in a new transaction.
-- A row-level trigger sees the rows an INSERT wrote before the current one,
-- so one statement may write several versions of a stream in order. It
-- runs with the inserting role's rights: that role reads events anyway.
-- (A statement-level trigger over the transition table, one call per
-- statement, measured slower for the one-row appends that dominate.)
-- Existing rows are not checked. pg_restore of data only (--data-only)
-- fires it too: restore with --disable-triggers, or restore the schema and
-- data together, which creates the trigger after the data is loaded.
CREATE FUNCTION {{schema}}.events_follow_stream() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    prev_tx  xid8;
    prev_pos bigint;
BEGIN
    IF NEW.version < 1 THEN
        RAISE EXCEPTION 'eventfold: event % of stream % (tenant %) has version %: versions start at 1',
            NEW.event_id, NEW.stream_id, quote_literal(NEW.tenant_id), NEW.version
            USING ERRCODE = '23514';
    END IF;
    SELECT e.transaction_id, e.global_position INTO prev_tx, prev_pos
        FROM {{schema}}.events e
        WHERE e.tenant_id = NEW.tenant_id AND e.stream_id = NEW.stream_id AND e.version = NEW.version - 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'eventfold: event % of stream % (tenant %) has version % but version % is not stored: a stream''s versions are 1, 2, 3, ... in order',
            NEW.event_id, NEW.stream_id, quote_literal(NEW.tenant_id), NEW.version, NEW.version - 1
            USING ERRCODE = '23514', HINT = 'Append through the event store, or insert the missing versions first, in order.';
    END IF;
    IF (prev_tx, prev_pos) > (NEW.transaction_id, NEW.global_position) THEN
        RAISE EXCEPTION 'eventfold: stream % was appended to by a later transaction first; retry', NEW.stream_id
            USING ERRCODE = '40001';
    END IF;
    RETURN NEW;
END
$$;

-- Version 1 needs no check: WHEN spares it the function call.
CREATE TRIGGER events_version_order BEFORE INSERT ON {{schema}}.events
    FOR EACH ROW WHEN (NEW.version <> 1) EXECUTE FUNCTION {{schema}}.events_follow_stream();

-- Off until EnforceVersionOrder turns it on.
ALTER TABLE {{schema}}.events DISABLE TRIGGER events_version_order;
