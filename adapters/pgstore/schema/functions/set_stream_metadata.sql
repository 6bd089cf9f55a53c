-- set_stream_metadata replaces the retention of stream p_stream of tenant
-- p_tenant (p_max_age_ns nanoseconds and p_max_count events, 0 for no
-- limit) and appends a '$stream.metadata' event, with ID p_event_id, to
-- the stream's metadata stream, in one statement, under the stream row's
-- lock as truncate_stream. The stream need not exist yet: its row is
-- created. Outcomes: 0 done (the stream's version, and the event's
-- position), 4 the stream is tombstoned.
CREATE OR REPLACE FUNCTION {{schema}}.set_stream_metadata(
    p_tenant      text,
    p_stream      text,
    p_max_age_ns  bigint,
    p_max_count   bigint,
    p_event_id    uuid
) RETURNS TABLE (outcome int, stream_version bigint, transaction_id xid8, global_position bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_cur     bigint;
    v_meta    text := chr(36) || chr(36) || p_stream; -- two dollar signs would end the body
    v_mcur    bigint;
    v_prev_tx xid8;
    v_pos     bigint;
    v_age     interval := CASE WHEN p_max_age_ns > 0 THEN (p_max_age_ns / 1000) * interval '1 microsecond' END;
BEGIN
    INSERT INTO {{schema}}.streams (tenant_id, stream_id) VALUES (p_tenant, p_stream)
        ON CONFLICT (tenant_id, stream_id) DO NOTHING;
    PERFORM FROM {{schema}}.streams s WHERE s.tenant_id = p_tenant AND s.stream_id = p_stream FOR UPDATE;
    v_cur := coalesce((SELECT e.version FROM {{schema}}.events e
        WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream ORDER BY e.version DESC LIMIT 1), 0);
    IF EXISTS (SELECT FROM {{schema}}.events e WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream
               AND e.version = v_cur AND e.type = '$stream.tombstone') THEN
        RETURN QUERY SELECT 4, v_cur, NULL::xid8, NULL::bigint;
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
        VALUES (p_tenant, v_meta, coalesce(v_mcur, 0) + 1, p_event_id, '$stream.metadata', 'application/json',
                convert_to(jsonb_build_object('stream_id', p_stream, 'version', v_cur,
                    'metadata', jsonb_strip_nulls(jsonb_build_object('max_age', nullif(p_max_age_ns, 0), 'max_count', nullif(p_max_count, 0))))::text, 'UTF8'))
        RETURNING e.global_position INTO v_pos;
    INSERT INTO {{schema}}.stream_lifecycle AS l (tenant_id, stream_id, truncate_before, max_age, max_count)
        VALUES (p_tenant, p_stream, 1, v_age, nullif(p_max_count, 0))
        ON CONFLICT (tenant_id, stream_id) DO UPDATE
        SET max_age = excluded.max_age, max_count = excluded.max_count, changed_at = now();
    RETURN QUERY SELECT 0, v_cur, pg_current_xact_id(), v_pos;
END
$$;
