-- truncate_stream hides the events of stream p_stream of tenant p_tenant
-- with a version below p_before from ReadStream (stream_lifecycle's
-- truncate_before) and appends a '$stream.truncated' event, with ID
-- p_event_id, to the stream's metadata stream ('$$' and the stream ID),
-- in one statement. It takes the stream row's lock, as append_events and
-- delete_stream do, which also orders the writers of the metadata stream.
-- The stream's version is unchanged, so appends racing a truncation need
-- no conflict: they add versions above p_before. The truncated events
-- stay in the log until reclaimed.
-- Outcomes: 0 done (the stream's version, and the position of the
-- event), 4 the stream is tombstoned, 5 it has no readable events, 6
-- p_before is above its version (returned), 7 p_before is at or below an
-- earlier truncation: nothing to do. The metadata stream's order is
-- checked as append_events checks a stream's (40001).
CREATE OR REPLACE FUNCTION {{schema}}.truncate_stream(
    p_tenant   text,
    p_stream   text,
    p_before   bigint,
    p_event_id uuid
) RETURNS TABLE (outcome int, stream_version bigint, transaction_id xid8, global_position bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_cur     bigint;
    v_before  bigint;
    v_meta    text := chr(36) || chr(36) || p_stream; -- two dollar signs would end the body
    v_mcur    bigint;
    v_prev_tx xid8;
    v_pos     bigint;
BEGIN
    PERFORM FROM {{schema}}.streams s WHERE s.tenant_id = p_tenant AND s.stream_id = p_stream FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 5, 0::bigint, NULL::xid8, NULL::bigint;
        RETURN;
    END IF;
    v_cur := coalesce((SELECT e.version FROM {{schema}}.events e
        WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream ORDER BY e.version DESC LIMIT 1), 0);
    IF EXISTS (SELECT FROM {{schema}}.events e WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream
               AND e.version = v_cur AND e.type = '$stream.tombstone') THEN
        RETURN QUERY SELECT 4, v_cur, NULL::xid8, NULL::bigint;
        RETURN;
    END IF;
    v_before := coalesce((SELECT l.truncate_before FROM {{schema}}.stream_lifecycle l
        WHERE l.tenant_id = p_tenant AND l.stream_id = p_stream), 1);
    IF v_cur = 0 OR v_cur < v_before THEN
        RETURN QUERY SELECT 5, 0::bigint, NULL::xid8, NULL::bigint;
        RETURN;
    END IF;
    IF p_before > v_cur THEN
        RETURN QUERY SELECT 6, v_cur, NULL::xid8, NULL::bigint;
        RETURN;
    END IF;
    IF p_before <= v_before THEN
        RETURN QUERY SELECT 7, v_cur, NULL::xid8, NULL::bigint;
        RETURN;
    END IF;

    INSERT INTO {{schema}}.streams (tenant_id, stream_id) VALUES (p_tenant, v_meta)
        ON CONFLICT (tenant_id, stream_id) DO NOTHING;
    SELECT e.version, e.transaction_id INTO v_mcur, v_prev_tx FROM {{schema}}.events e
        WHERE e.tenant_id = p_tenant AND e.stream_id = v_meta ORDER BY e.version DESC LIMIT 1;
    IF v_prev_tx > pg_current_xact_id() THEN
        RAISE EXCEPTION 'eventfold: stream % was appended to by a later transaction first; retry', v_meta
            USING ERRCODE = '40001';
    END IF;
    INSERT INTO {{schema}}.events AS e (tenant_id, stream_id, version, event_id, type, content_type, data)
        VALUES (p_tenant, v_meta, coalesce(v_mcur, 0) + 1, p_event_id, '$stream.truncated', 'application/json',
                convert_to(jsonb_build_object('stream_id', p_stream, 'version', v_cur, 'before', p_before)::text, 'UTF8'))
        RETURNING e.global_position INTO v_pos;
    INSERT INTO {{schema}}.stream_lifecycle AS l (tenant_id, stream_id, truncate_before)
        VALUES (p_tenant, p_stream, p_before)
        ON CONFLICT (tenant_id, stream_id) DO UPDATE SET truncate_before = excluded.truncate_before, changed_at = now();
    RETURN QUERY SELECT 0, v_cur, pg_current_xact_id(), v_pos;
END
$$;
