-- delete_stream deletes stream p_stream of tenant p_tenant if it is where
-- p_expected says (-1 any, -2 stream exists, 0 no stream, > 0 exact
-- version), in one statement, under the lock of the stream's row in
-- streams (append_events takes the same lock):
--  * a soft delete (p_hard false) appends a '$stream.deleted' marker, with
--    ID p_event_id, at the version after the stream's last and sets the
--    stream's truncate_before past it, so ReadStream hides every event
--    up to the marker. The events stay in the log until reclaimed;
--  * a hard delete appends a '$stream.tombstone' the same way, then
--    erases the stream's events and marks it tombstoned. A stream that
--    never existed gets its row and a tombstone at version 1. A hard
--    delete of an archived stream removes its archive
--    (events_archive) too.
-- Erasing keeps each row, without its data, metadata or type (now
-- '$stream.erased', which ReadAll leaves out), rather than deleting it:
-- an append at an exact version whose statement snapshot still saw the
-- stream's events would otherwise take a freed version after the delete
-- commits, as the unique index only stops a live row. The tombstone's
-- own version is guarded by the fast path, which never appends after a
-- tombstone.
-- Both drop the stream's snapshot. Taking the version after the last
-- makes an append at an exact version that races the delete, which takes
-- no lock, lose on events_stream_version (or win, and the delete retries).
-- Outcomes: 0 done (the marker's version and position), 1 a concurrency
-- conflict (the stream's version, 0 when it has no readable events), 4
-- the stream is tombstoned, 5 a soft delete of a stream without readable
-- events. A later transaction that appended the last event first gets the
-- stream order's serialization failure (40001), as in append_events.
CREATE OR REPLACE FUNCTION {{schema}}.delete_stream(
    p_tenant   text,
    p_stream   text,
    p_expected bigint,
    p_hard     boolean,
    p_event_id uuid
) RETURNS TABLE (outcome int, stream_version bigint, transaction_id xid8, global_position bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_cur       bigint;
    v_prev_tx   xid8;
    v_prev_type text;
    v_readable  boolean;
    v_type      text := CASE WHEN p_hard THEN '$stream.tombstone' ELSE '$stream.deleted' END;
    v_pos       bigint;
BEGIN
    IF p_hard THEN
        INSERT INTO {{schema}}.streams (tenant_id, stream_id) VALUES (p_tenant, p_stream)
            ON CONFLICT (tenant_id, stream_id) DO NOTHING;
    END IF;
    PERFORM FROM {{schema}}.streams s WHERE s.tenant_id = p_tenant AND s.stream_id = p_stream FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 5, 0::bigint, NULL::xid8, NULL::bigint;
        RETURN;
    END IF;
    v_cur := coalesce((SELECT e.version FROM {{schema}}.events e
        WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream ORDER BY e.version DESC LIMIT 1), 0);
    IF v_cur > 0 THEN
        SELECT e.transaction_id, e.type INTO v_prev_tx, v_prev_type FROM {{schema}}.events e
            WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream AND e.version = v_cur;
        IF v_prev_type = '$stream.tombstone' THEN
            RETURN QUERY SELECT 4, v_cur, NULL::xid8, NULL::bigint;
            RETURN;
        END IF;
    END IF;
    v_readable := v_cur > 0 AND v_cur >= coalesce((SELECT l.truncate_before FROM {{schema}}.stream_lifecycle l
        WHERE l.tenant_id = p_tenant AND l.stream_id = p_stream), 1);
    IF NOT v_readable AND NOT p_hard THEN
        RETURN QUERY SELECT 5, 0::bigint, NULL::xid8, NULL::bigint;
        RETURN;
    END IF;
    IF NOT (p_expected = -1 OR (p_expected = -2 AND v_readable) OR (p_expected = 0 AND NOT v_readable)
            OR (p_expected > 0 AND p_expected = v_cur)) THEN
        RETURN QUERY SELECT 1, CASE WHEN v_readable THEN v_cur ELSE 0 END, NULL::xid8, NULL::bigint;
        RETURN;
    END IF;
    IF v_cur > 0 AND v_prev_tx > pg_current_xact_id() THEN
        RAISE EXCEPTION 'eventfold: stream % was appended to by a later transaction first; retry', p_stream
            USING ERRCODE = '40001';
    END IF;

    INSERT INTO {{schema}}.events AS e (tenant_id, stream_id, version, event_id, type, content_type, data)
        VALUES (p_tenant, p_stream, v_cur + 1, p_event_id, v_type, 'application/json',
                convert_to(jsonb_build_object('stream_id', p_stream, 'version', v_cur, 'before', v_cur + 2)::text, 'UTF8'))
        ON CONFLICT (tenant_id, stream_id, version) DO NOTHING
        RETURNING e.global_position INTO v_pos;
    IF v_pos IS NULL THEN
        RAISE EXCEPTION 'eventfold: stream % was appended to by another append first; retry', p_stream
            USING ERRCODE = '40001';
    END IF;
    IF p_hard THEN
        UPDATE {{schema}}.events e SET type = '$stream.erased', content_type = 'application/octet-stream',
                data = '\x'::bytea, metadata = NULL
            WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream AND e.version <= v_cur;
        DELETE FROM {{schema}}.events_archive a WHERE a.tenant_id = p_tenant AND a.stream_id = p_stream;
    END IF;
    INSERT INTO {{schema}}.stream_lifecycle AS l (tenant_id, stream_id, truncate_before, tombstoned)
        VALUES (p_tenant, p_stream, CASE WHEN p_hard THEN 9223372036854775807 ELSE v_cur + 2 END, p_hard)
        ON CONFLICT (tenant_id, stream_id) DO UPDATE
        SET truncate_before = excluded.truncate_before, tombstoned = excluded.tombstoned, archived = false, changed_at = now();
    DELETE FROM {{schema}}.snapshots s WHERE s.tenant_id = p_tenant AND s.stream_id = p_stream;
    RETURN QUERY SELECT 0, v_cur + 1, pg_current_xact_id(), v_pos;
END
$$;
