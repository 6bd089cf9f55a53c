-- Group commit (Options.GroupCommit): several appends, each to its own
-- stream with its own expected version, in one statement and so one
-- transaction and one commit.
--
-- append_events_group takes the commands as parallel arrays: p_streams,
-- p_expected, p_first (index of the command's first event in the event
-- arrays, 1-based) and p_counts, one element per command; p_ids .. p_metadata
-- hold all the events, command after command, and p_cmd the command index of
-- each event. It returns one row per command, with outcome as in
-- append_events (0 stored, 1 conflict, 2 replay, 3 duplicate event ID).
--
-- Commands are handled in array order, as if appended one after the other:
--  1. when p_check_replay is set (the client's second try, after a unique
--     violation on an event ID), a command whose events are stored is a replay
--     (outcome 2), and one with any event ID stored by a different append a
--     duplicate (outcome 3);
--  2. the expected-version check on the streams row, exactly as in
--     append_events, so a later command on the same stream sees the new
--     version of an earlier one; a loser whose events are stored is a replay,
--     any other loser gets outcome 1 and the actual version, and nothing else
--     in the group is affected;
--  3. a check that no stream's previous event has a larger transaction ID
--     than this one (see below);
--  4. after the loop, one INSERT of the events of every command that won, in
--     array order, so positions follow versions within each stream.
-- The client never puts the same event ID twice in one group. A stored event
-- ID makes the insert fail with a unique violation, which rolls back the
-- whole group; the client then tries once more with p_check_replay set.
CREATE FUNCTION {{schema}}.append_events_group(
    p_check_replay  boolean,
    p_streams       text[],
    p_expected      bigint[],
    p_first         int[],
    p_counts        int[],
    p_cmd           int[],
    p_ids           uuid[],
    p_types         text[],
    p_content_types text[],
    p_data          bytea[],
    p_metadata      jsonb[]
) RETURNS TABLE (command int, outcome int, stream_version bigint, transaction_id xid8, global_position bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    m        int := cardinality(p_streams);
    v_base   bigint[] := array_fill(NULL::bigint, ARRAY[cardinality(p_streams)]);
    v_new    bigint[] := array_fill(NULL::bigint, ARRAY[cardinality(p_streams)]);
    v_ids    uuid[];
    v_next   bigint;
    v_stream text;
    n        bigint;
    r        record;
    any_won  boolean := false;
BEGIN
    FOR i IN 1 .. m LOOP
        v_stream := p_streams[i];
        n := p_counts[i];
        v_next := NULL;
        IF p_check_replay THEN
            v_ids := p_ids[p_first[i] : p_first[i] + n - 1];
            SELECT * INTO r FROM {{schema}}.replayed_append(v_stream, v_ids);
            IF FOUND THEN
                command := i; outcome := r.outcome; stream_version := r.stream_version;
                transaction_id := r.transaction_id; global_position := r.global_position;
                RETURN NEXT;
                CONTINUE;
            END IF;
            IF EXISTS (SELECT 1 FROM {{schema}}.events e WHERE e.event_id = ANY (v_ids)) THEN
                command := i; outcome := 3; stream_version := 0;
                transaction_id := NULL; global_position := NULL;
                RETURN NEXT;
                CONTINUE;
            END IF;
        END IF;

        IF p_expected[i] = -1 THEN
            INSERT INTO {{schema}}.streams AS s (stream_id, version) VALUES (v_stream, n)
                ON CONFLICT (stream_id) DO UPDATE SET version = s.version + n
                RETURNING s.version INTO v_next;
        ELSIF p_expected[i] = 0 THEN
            INSERT INTO {{schema}}.streams (stream_id, version) VALUES (v_stream, n)
                ON CONFLICT (stream_id) DO NOTHING
                RETURNING version INTO v_next;
        ELSIF p_expected[i] = -2 THEN
            UPDATE {{schema}}.streams s SET version = s.version + n
                WHERE s.stream_id = v_stream RETURNING s.version INTO v_next;
        ELSE
            UPDATE {{schema}}.streams s SET version = s.version + n
                WHERE s.stream_id = v_stream AND s.version = p_expected[i] RETURNING s.version INTO v_next;
        END IF;

        IF v_next IS NULL THEN
            v_ids := p_ids[p_first[i] : p_first[i] + n - 1];
            SELECT * INTO r FROM {{schema}}.replayed_append(v_stream, v_ids);
            IF FOUND THEN
                command := i; outcome := r.outcome; stream_version := r.stream_version;
                transaction_id := r.transaction_id; global_position := r.global_position;
            ELSE
                command := i; outcome := 1; transaction_id := NULL; global_position := NULL;
                stream_version := coalesce((SELECT s.version FROM {{schema}}.streams s WHERE s.stream_id = v_stream), 0);
            END IF;
            RETURN NEXT;
            CONTINUE;
        END IF;
        v_new[i] := v_next;
        -- event j of the command gets version v_base[i] + j
        v_base[i] := v_next - n - p_first[i] + 1;
        any_won := true;
    END LOOP;

    IF NOT any_won THEN
        RETURN;
    END IF;

    -- The log is in transaction-ID order, and this transaction took its ID
    -- at its first write, maybe before another writer of a later stream in
    -- the group took a larger ID and committed. Appending after such an
    -- event would put a stream's versions out of order in the log: give up
    -- instead, and the client appends the group's commands one by one.
    IF EXISTS (
        SELECT 1 FROM unnest(p_streams, v_new, p_counts) AS c(s, v, n)
            JOIN {{schema}}.events e ON e.stream_id = c.s AND e.version = c.v - c.n
            WHERE c.v IS NOT NULL AND e.transaction_id > pg_current_xact_id()
    ) THEN
        RAISE EXCEPTION 'append_events_group: a stream was appended to by a later transaction'
            USING ERRCODE = 'serialization_failure';
    END IF;

    RETURN QUERY
    WITH inserted AS (
        INSERT INTO {{schema}}.events AS e (stream_id, version, event_id, type, content_type, data, metadata)
        SELECT p_streams[u.c], v_base[u.c] + u.j, u.id, u.t, u.ct, u.d, u.m
            FROM unnest(p_cmd, p_ids, p_types, p_content_types, p_data, p_metadata) WITH ORDINALITY AS u(c, id, t, ct, d, m, j)
            WHERE v_base[u.c] IS NOT NULL
        RETURNING e.stream_id, e.version, e.global_position
    )
    SELECT c.i::int, 0, c.v, pg_current_xact_id(), ins.global_position
        FROM unnest(p_streams, v_new) WITH ORDINALITY AS c(s, v, i)
        JOIN inserted ins ON ins.stream_id = c.s AND ins.version = c.v;
END
$$;
