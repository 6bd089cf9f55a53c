-- archive_stream archives stream p_stream of tenant p_tenant if it is
-- where p_expected says (-1 any, -2 stream exists, > 0 exact version; 0,
-- no stream, never matches a stream with readable events), in one
-- statement, under the lock of the stream's row in streams (append_events
-- takes the same lock; see schema/018_stream_archive.sql):
--  1. append a '$stream.archived' marker, with ID p_event_id, at the
--     version after the stream's last. Taking that version makes an
--     append at an exact version that races the archive, which takes no
--     lock, lose on events_stream_version (or win, and the archive
--     retries and takes it along);
--  2. copy every stored event of the stream up to its last into
--     events_archive, positions included, and erase each in place in
--     events, as a hard delete does: the row keeps its version and event
--     ID, ReadAll leaves it out;
--  3. mark the stream archived in stream_lifecycle, with truncate_before
--     past the marker, and drop its snapshot.
-- Outcomes: 0 done (the marker's version and position), 1 a concurrency
-- conflict (the stream's version), 4 the stream is tombstoned, 5 it has no
-- readable events, 8 it is archived already. A later transaction that
-- appended the last event first gets the stream order's serialization
-- failure (40001), as in append_events.
CREATE OR REPLACE FUNCTION {{schema}}.archive_stream(
    p_tenant   text,
    p_stream   text,
    p_expected bigint,
    p_event_id uuid
) RETURNS TABLE (outcome int, stream_version bigint, transaction_id xid8, global_position bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_cur       bigint;
    v_prev_tx   xid8;
    v_prev_type text;
    v_pos       bigint;
BEGIN
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
        ELSIF v_prev_type = '$stream.archived' THEN
            RETURN QUERY SELECT 8, v_cur, NULL::xid8, NULL::bigint;
            RETURN;
        END IF;
    END IF;
    IF v_cur = 0 OR v_cur < coalesce((SELECT l.truncate_before FROM {{schema}}.stream_lifecycle l
            WHERE l.tenant_id = p_tenant AND l.stream_id = p_stream), 1) THEN
        RETURN QUERY SELECT 5, 0::bigint, NULL::xid8, NULL::bigint;
        RETURN;
    END IF;
    IF NOT (p_expected IN (-1, -2) OR p_expected = v_cur) THEN
        RETURN QUERY SELECT 1, v_cur, NULL::xid8, NULL::bigint;
        RETURN;
    END IF;
    IF v_prev_tx > pg_current_xact_id() THEN
        RAISE EXCEPTION 'eventfold: stream % was appended to by a later transaction first; retry', p_stream
            USING ERRCODE = '40001';
    END IF;

    INSERT INTO {{schema}}.events AS e (tenant_id, stream_id, version, event_id, type, content_type, data)
        VALUES (p_tenant, p_stream, v_cur + 1, p_event_id, '$stream.archived', 'application/json',
                convert_to(jsonb_build_object('stream_id', p_stream, 'version', v_cur, 'before', v_cur + 2)::text, 'UTF8'))
        ON CONFLICT (tenant_id, stream_id, version) DO NOTHING
        RETURNING e.global_position INTO v_pos;
    IF v_pos IS NULL THEN
        RAISE EXCEPTION 'eventfold: stream % was appended to by another append first; retry', p_stream
            USING ERRCODE = '40001';
    END IF;
    INSERT INTO {{schema}}.events_archive (tenant_id, stream_id, version, transaction_id, global_position,
            event_id, type, content_type, data, metadata, recorded_at)
        SELECT e.tenant_id, e.stream_id, e.version, e.transaction_id, e.global_position,
            e.event_id, e.type, e.content_type, e.data, e.metadata, e.recorded_at
        FROM {{schema}}.events e
        WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream AND e.version <= v_cur AND e.type <> '$stream.erased'
        FOR UPDATE;
    UPDATE {{schema}}.events e SET type = '$stream.erased', content_type = 'application/octet-stream',
            data = '\x'::bytea, metadata = NULL
        WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream AND e.version <= v_cur AND e.type <> '$stream.erased';
    INSERT INTO {{schema}}.stream_lifecycle AS l (tenant_id, stream_id, truncate_before, archived)
        VALUES (p_tenant, p_stream, v_cur + 2, true)
        ON CONFLICT (tenant_id, stream_id) DO UPDATE
        SET truncate_before = excluded.truncate_before, archived = true, changed_at = now();
    DELETE FROM {{schema}}.snapshots s WHERE s.tenant_id = p_tenant AND s.stream_id = p_stream;
    RETURN QUERY SELECT 0, v_cur + 1, pg_current_xact_id(), v_pos;
END
$$;
