-- eventfold event store, version 1. {{schema}} is replaced by the quoted
-- schema name when the migration runs.

CREATE TABLE {{schema}}.streams (
    stream_id text   PRIMARY KEY,
    version   bigint NOT NULL
) WITH (fillfactor = 80); -- every append updates its stream row: leave room for HOT updates

CREATE TABLE {{schema}}.events (
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    global_position bigint      GENERATED ALWAYS AS IDENTITY (CACHE 1),
    stream_id       text        NOT NULL,
    version         bigint      NOT NULL,
    event_id        uuid        NOT NULL,
    type            text        NOT NULL,
    content_type    text        NOT NULL,
    data            bytea       NOT NULL,
    metadata        jsonb,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    -- The tail index: readers scan (transaction_id, global_position) ranges.
    PRIMARY KEY (transaction_id, global_position),
    CONSTRAINT events_stream_version UNIQUE (stream_id, version),
    CONSTRAINT events_event_id UNIQUE (event_id)
);

-- Command idempotency keys, written in the same transaction as the append.
CREATE TABLE {{schema}}.command_keys (
    command_key     text        PRIMARY KEY,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL,
    transaction_id  xid8        NOT NULL,
    global_position bigint      NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX command_keys_recorded_at ON {{schema}}.command_keys (recorded_at);

-- append_events runs a whole append in one statement, so one round trip:
--  1. a command key or event IDs seen before: return the first result (outcome 2),
--     or outcome 3 if the IDs were stored by a different append;
--  2. the expected-version check on the stream row, before any event row is
--     written, so a losing writer takes no positions (outcome 1, actual version);
--  3. insert the events (outcome 0).
-- p_expected: -1 any, -2 stream exists, 0 no stream, > 0 exact version.
CREATE FUNCTION {{schema}}.append_events(
    p_stream        text,
    p_expected      bigint,
    p_command_key   text,
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
    v_stream   text;
    v_version  bigint;
    v_matching bigint;
    v_last     bigint;
BEGIN
    IF p_command_key IS NOT NULL THEN
        RETURN QUERY SELECT 2, k.stream_version, k.transaction_id, k.global_position
            FROM {{schema}}.command_keys k WHERE k.command_key = p_command_key;
        IF FOUND THEN RETURN; END IF;
    END IF;

    SELECT e.stream_id, e.version INTO v_stream, v_version
        FROM {{schema}}.events e WHERE e.event_id = p_ids[1];
    IF FOUND THEN
        SELECT count(*) INTO v_matching
            FROM unnest(p_ids) WITH ORDINALITY AS u(id, i)
            JOIN {{schema}}.events e ON e.event_id = u.id
            WHERE e.stream_id = p_stream AND e.version = v_version + u.i - 1;
        IF v_stream = p_stream AND v_matching = n THEN
            RETURN QUERY SELECT 2, e.version, e.transaction_id, e.global_position
                FROM {{schema}}.events e
                WHERE e.stream_id = p_stream AND e.version = v_version + n - 1;
        ELSE
            RETURN QUERY SELECT 3, 0::bigint, NULL::xid8, NULL::bigint;
        END IF;
        RETURN;
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
        RETURN QUERY SELECT 1, coalesce((SELECT s.version FROM {{schema}}.streams s WHERE s.stream_id = p_stream), 0), NULL::xid8, NULL::bigint;
        RETURN;
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
