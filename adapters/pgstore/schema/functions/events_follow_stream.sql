-- The function of the events_version_order trigger (created disabled by
-- migration 012, turned on by pgstore.EnforceVersionOrder): each new event
-- must follow its stream's previous version, one probe of
-- events_stream_version:
--  * version 1 starts a stream (a second version 1 is a unique violation);
--  * any other version v needs version v-1 of the same tenant and stream
--    stored, committed or written earlier in this transaction or statement
--    (SQLSTATE 23514, check_violation, naming the missing version);
--  * version v-1 must come first in the log, (transaction_id,
--    global_position) order: a transaction that took its ID before the one
--    that wrote v-1 gets SQLSTATE 40001, as in append_events, and retries
--    in a new transaction.
-- It runs with the inserting role's rights: that role reads events anyway.
CREATE OR REPLACE FUNCTION {{schema}}.events_follow_stream() RETURNS trigger
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
