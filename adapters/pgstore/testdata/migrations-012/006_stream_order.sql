-- Keep each stream's versions in log order (see the check before the
-- insert). Same signature as version 4.

CREATE OR REPLACE FUNCTION {{schema}}.append_events(
    p_stream        text,
    p_expected      bigint,
    p_command_key   text,
    p_check_replay  boolean,
    p_ids           uuid[],
    p_types         text[],
    p_content_types text[],
    p_data          bytea[],
    p_metadata      jsonb[]
) RETURNS TABLE (outcome int, stream_version bigint, transaction_id xid8, global_position bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n          bigint := cardinality(p_ids);
    v_new      bigint;
    v_last     bigint;
BEGIN
    IF p_command_key IS NOT NULL THEN
        RETURN QUERY SELECT 2, k.stream_version, k.transaction_id, k.global_position
            FROM {{schema}}.command_keys k WHERE k.command_key = p_command_key;
        IF FOUND THEN RETURN; END IF;
    END IF;

    IF p_check_replay THEN
        RETURN QUERY SELECT * FROM {{schema}}.replayed_append(p_stream, p_ids);
        IF FOUND THEN RETURN; END IF;
    END IF;

    IF p_expected = -1 THEN
        INSERT INTO {{schema}}.streams AS s (stream_id, version) VALUES (p_stream, n)
            ON CONFLICT (stream_id) DO UPDATE SET version = s.version + n
            RETURNING s.version INTO v_new;
    ELSIF p_expected = 0 THEN
        INSERT INTO {{schema}}.streams (stream_id, version) VALUES (p_stream, n)
            ON CONFLICT (stream_id) DO NOTHING
            RETURNING version INTO v_new;
    ELSIF p_expected = -2 THEN
        UPDATE {{schema}}.streams s SET version = s.version + n
            WHERE s.stream_id = p_stream RETURNING s.version INTO v_new;
    ELSE
        UPDATE {{schema}}.streams s SET version = s.version + n
            WHERE s.stream_id = p_stream AND s.version = p_expected RETURNING s.version INTO v_new;
    END IF;

    IF v_new IS NULL THEN
        RETURN QUERY SELECT * FROM {{schema}}.replayed_append(p_stream, p_ids);
        IF FOUND THEN RETURN; END IF;
        RETURN QUERY SELECT 1, coalesce((SELECT s.version FROM {{schema}}.streams s WHERE s.stream_id = p_stream), 0), NULL::xid8, NULL::bigint;
        RETURN;
    END IF;

    -- This transaction may have taken its ID before the one that held the
    -- stream row ahead of it (IDs are taken at the first write, before the
    -- row lock is waited for). The log is ordered by transaction ID, so the
    -- stream's versions would be listed out of order: refuse, and let the
    -- client try again in a new transaction, which gets a later ID.
    IF v_new > n AND (SELECT e.transaction_id FROM {{schema}}.events e
                      WHERE e.stream_id = p_stream AND e.version = v_new - n) > pg_current_xact_id() THEN
        RAISE EXCEPTION 'eventfold: stream % was appended to by a later transaction first; retry', p_stream
            USING ERRCODE = '40001';
    END IF;

    WITH inserted AS (
        INSERT INTO {{schema}}.events AS e (stream_id, version, event_id, type, content_type, data, metadata)
        SELECT p_stream, v_new - n + u.i, u.id, u.t, u.ct, u.d, u.m
            FROM unnest(p_ids, p_types, p_content_types, p_data, p_metadata) WITH ORDINALITY AS u(id, t, ct, d, m, i)
        RETURNING e.global_position
    )
    SELECT max(inserted.global_position) INTO v_last FROM inserted;

    IF p_command_key IS NOT NULL THEN
        INSERT INTO {{schema}}.command_keys AS k (command_key, stream_id, stream_version, transaction_id, global_position)
            VALUES (p_command_key, p_stream, v_new, pg_current_xact_id(), v_last);
    END IF;
    RETURN QUERY SELECT 0, v_new, pg_current_xact_id(), v_last;
END
$$;
