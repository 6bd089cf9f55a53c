-- A stream's version is its last event's version, and the unique index
-- events_stream_version is the concurrency check (docs/design.md §14).
--
-- Until version 8 every append moved its stream's row in streams from the
-- expected version to the new one. That update was the largest cost of an
-- append beyond the INSERT itself (about 40 µs of server CPU and a heap
-- tuple of WAL per command on the benchmark machine). Now:
--
--  * an append at an exact version v (the client's fast path, one plain
--    statement) inserts version v+1 only if event v is stored. Two appends
--    that both take v+1 cannot both commit: the second one waits on the
--    first's index entry and then fails with a unique violation, which the
--    client turns into a concurrency conflict. Versions stay contiguous,
--    because v+1 is only ever written next to a stored v. It writes no
--    streams row at all;
--  * a streams row is written once, when the stream is created, and is the
--    lock the other appends (Any, NoStream, StreamExists, command keys,
--    replays) take, so they keep their order among themselves; they read
--    the version from the events table after taking it;
--  * the version column is dropped, as it would no longer be kept up to
--    date. Binaries older than this migration fail loudly on it instead of
--    reading a stale version.

ALTER TABLE {{schema}}.streams DROP COLUMN version;

-- The version of a stream: its last event's, 0 when it has none. One probe
-- of events_stream_version from the top. For listings; the append functions
-- below write the query out, as plpgsql caches their plans but not those
-- of the SQL functions they call.
CREATE FUNCTION {{schema}}.stream_version(p_tenant text, p_stream text)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT e.version FROM {{schema}}.events e
        WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream
        ORDER BY e.version DESC LIMIT 1), 0)
$$;

-- append_events as in version 8, with the version read from the events
-- table under the stream row's lock. Still one statement, so one round
-- trip. Losing a race for a version to a lock-free exact append is a
-- serialization failure (40001), as losing the stream order was in version 6.
CREATE OR REPLACE FUNCTION {{schema}}.append_events(
    p_stream        text,
    p_expected      bigint,
    p_command_key   text,
    p_check_replay  boolean,
    p_ids           uuid[],
    p_types         text[],
    p_content_types text[],
    p_data          bytea[],
    p_metadata      jsonb[],
    p_tenant        text DEFAULT ''
) RETURNS TABLE (outcome int, stream_version bigint, transaction_id xid8, global_position bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n      bigint := cardinality(p_ids);
    v_cur  bigint;
    v_last bigint;
    v_count bigint;
BEGIN
    IF p_command_key IS NOT NULL THEN
        RETURN QUERY SELECT 2, k.stream_version, k.transaction_id, k.global_position
            FROM {{schema}}.command_keys k WHERE k.tenant_id = p_tenant AND k.command_key = p_command_key;
        IF FOUND THEN RETURN; END IF;
    END IF;

    IF p_check_replay THEN
        RETURN QUERY SELECT * FROM {{schema}}.replayed_append(p_stream, p_ids, p_tenant);
        IF FOUND THEN RETURN; END IF;
    END IF;

    -- An append at an exact version that the stream is not at is a
    -- conflict (or a replay) found without a lock: versions only grow, and
    -- one the caller saw committed is never taken back. Reporting it takes
    -- no transaction ID, so no commit record to flush, which keeps the
    -- losers of a race on a hot stream cheap.
    IF p_expected > 0 THEN
        v_cur := coalesce((SELECT e.version FROM {{schema}}.events e
            WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream ORDER BY e.version DESC LIMIT 1), 0);
        IF v_cur <> p_expected THEN
            RETURN QUERY SELECT * FROM {{schema}}.replayed_append(p_stream, p_ids, p_tenant);
            IF FOUND THEN RETURN; END IF;
            RETURN QUERY SELECT 1, v_cur, NULL::xid8, NULL::bigint;
            RETURN;
        END IF;
        v_cur := NULL;
    END IF;

    -- Create the row if this append may create the stream, then lock it.
    -- A concurrent creator makes the INSERT wait for its commit.
    IF p_expected IN (0, -1) THEN
        INSERT INTO {{schema}}.streams (tenant_id, stream_id) VALUES (p_tenant, p_stream)
            ON CONFLICT (tenant_id, stream_id) DO NOTHING;
    END IF;
    PERFORM FROM {{schema}}.streams s WHERE s.tenant_id = p_tenant AND s.stream_id = p_stream FOR UPDATE;
    IF FOUND THEN
        -- A statement of its own, so its snapshot sees what the lock's
        -- previous holder committed.
        v_cur := coalesce((SELECT e.version FROM {{schema}}.events e
            WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream ORDER BY e.version DESC LIMIT 1), 0);
    END IF;

    IF v_cur IS NULL OR (p_expected >= 0 AND v_cur <> p_expected) THEN
        RETURN QUERY SELECT * FROM {{schema}}.replayed_append(p_stream, p_ids, p_tenant);
        IF FOUND THEN RETURN; END IF;
        RETURN QUERY SELECT 1, coalesce(v_cur, 0), NULL::xid8, NULL::bigint;
        RETURN;
    END IF;

    -- See 006_stream_order.sql.
    IF v_cur > 0 AND (SELECT e.transaction_id FROM {{schema}}.events e
                      WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream AND e.version = v_cur) > pg_current_xact_id() THEN
        RAISE EXCEPTION 'eventfold: stream % was appended to by a later transaction first; retry', p_stream
            USING ERRCODE = '40001';
    END IF;

    -- An append at an exact version, which takes no lock, may have taken
    -- these versions since v_cur was read: report that as the same
    -- serialization failure as above, which the client retries (or, in the
    -- caller's transaction, the caller), rather than as a unique violation.
    WITH inserted AS (
        INSERT INTO {{schema}}.events AS e (tenant_id, stream_id, version, event_id, type, content_type, data, metadata)
        SELECT p_tenant, p_stream, v_cur + u.i, u.id, u.t, u.ct, u.d, u.m
            FROM unnest(p_ids, p_types, p_content_types, p_data, p_metadata) WITH ORDINALITY AS u(id, t, ct, d, m, i)
        ON CONFLICT (tenant_id, stream_id, version) DO NOTHING
        RETURNING e.global_position
    )
    SELECT max(inserted.global_position), count(*) INTO v_last, v_count FROM inserted;
    IF v_count < n THEN
        RAISE EXCEPTION 'eventfold: stream % was appended to by another append first; retry', p_stream
            USING ERRCODE = '40001';
    END IF;

    IF p_command_key IS NOT NULL THEN
        INSERT INTO {{schema}}.command_keys AS k (tenant_id, command_key, stream_id, stream_version, transaction_id, global_position)
            VALUES (p_tenant, p_command_key, p_stream, v_cur + n, pg_current_xact_id(), v_last);
    END IF;
    RETURN QUERY SELECT 0, v_cur + n, pg_current_xact_id(), v_last;
END
$$;

-- append_events_group as in version 8, with each stream's version read from
-- the events table under its row's lock. The events of the whole group are
-- inserted after the loop, so a later command on a stream that an earlier
-- command of the group appended to starts from that command's new version.
CREATE OR REPLACE FUNCTION {{schema}}.append_events_group(
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
    p_metadata      jsonb[],
    p_tenants       text[] DEFAULT NULL
) RETURNS TABLE (command int, outcome int, stream_version bigint, transaction_id xid8, global_position bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    m         int := cardinality(p_streams);
    v_base    bigint[] := array_fill(NULL::bigint, ARRAY[cardinality(p_streams)]);
    v_new     bigint[] := array_fill(NULL::bigint, ARRAY[cardinality(p_streams)]);
    v_tenants text[] := array_fill(''::text, ARRAY[cardinality(p_streams)]);
    v_ids     uuid[];
    v_cur     bigint;
    v_stream  text;
    v_tenant  text;
    n         bigint;
    r         record;
    any_won   boolean := false;
BEGIN
    FOR i IN 1 .. m LOOP
        v_tenants[i] := coalesce(p_tenants[i], '');
    END LOOP;
    FOR i IN 1 .. m LOOP
        v_stream := p_streams[i];
        v_tenant := v_tenants[i];
        n := p_counts[i];
        IF p_check_replay THEN
            v_ids := p_ids[p_first[i] : p_first[i] + n - 1];
            SELECT * INTO r FROM {{schema}}.replayed_append(v_stream, v_ids, v_tenant);
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

        -- The version an earlier command of this group left the stream at,
        -- else the stored one, read under the row's lock.
        v_cur := NULL;
        FOR j IN REVERSE i - 1 .. 1 LOOP
            IF v_new[j] IS NOT NULL AND p_streams[j] = v_stream AND v_tenants[j] = v_tenant THEN
                v_cur := v_new[j];
                EXIT;
            END IF;
        END LOOP;
        IF v_cur IS NULL THEN
            IF p_expected[i] IN (0, -1) THEN
                INSERT INTO {{schema}}.streams (tenant_id, stream_id) VALUES (v_tenant, v_stream)
                    ON CONFLICT (tenant_id, stream_id) DO NOTHING;
            END IF;
            PERFORM FROM {{schema}}.streams s WHERE s.tenant_id = v_tenant AND s.stream_id = v_stream FOR UPDATE;
            IF FOUND THEN
                v_cur := coalesce((SELECT e.version FROM {{schema}}.events e
                    WHERE e.tenant_id = v_tenant AND e.stream_id = v_stream ORDER BY e.version DESC LIMIT 1), 0);
            END IF;
        END IF;

        IF v_cur IS NULL OR (p_expected[i] >= 0 AND v_cur <> p_expected[i]) THEN
            v_ids := p_ids[p_first[i] : p_first[i] + n - 1];
            SELECT * INTO r FROM {{schema}}.replayed_append(v_stream, v_ids, v_tenant);
            IF FOUND THEN
                command := i; outcome := r.outcome; stream_version := r.stream_version;
                transaction_id := r.transaction_id; global_position := r.global_position;
            ELSE
                command := i; outcome := 1; transaction_id := NULL; global_position := NULL;
                stream_version := coalesce(v_cur, 0);
            END IF;
            RETURN NEXT;
            CONTINUE;
        END IF;
        v_new[i] := v_cur + n;
        -- event j of the command gets version v_base[i] + j
        v_base[i] := v_cur - p_first[i] + 1;
        any_won := true;
    END LOOP;

    IF NOT any_won THEN
        RETURN;
    END IF;

    -- See 005_group_append.sql.
    IF EXISTS (
        SELECT 1 FROM unnest(v_tenants, p_streams, v_new, p_counts) AS c(t, s, v, n)
            JOIN {{schema}}.events e ON e.tenant_id = c.t AND e.stream_id = c.s AND e.version = c.v - c.n
            WHERE c.v IS NOT NULL AND e.transaction_id > pg_current_xact_id()
    ) THEN
        RAISE EXCEPTION 'append_events_group: a stream was appended to by a later transaction'
            USING ERRCODE = 'serialization_failure';
    END IF;

    RETURN QUERY
    WITH inserted AS (
        INSERT INTO {{schema}}.events AS e (tenant_id, stream_id, version, event_id, type, content_type, data, metadata)
        SELECT v_tenants[u.c], p_streams[u.c], v_base[u.c] + u.j, u.id, u.t, u.ct, u.d, u.m
            FROM unnest(p_cmd, p_ids, p_types, p_content_types, p_data, p_metadata) WITH ORDINALITY AS u(c, id, t, ct, d, m, j)
            WHERE v_base[u.c] IS NOT NULL
        RETURNING e.tenant_id, e.stream_id, e.version, e.global_position
    )
    SELECT c.i::int, 0, c.v, pg_current_xact_id(), ins.global_position
        FROM unnest(v_tenants, p_streams, v_new) WITH ORDINALITY AS c(t, s, v, i)
        JOIN inserted ins ON ins.tenant_id = c.t AND ins.stream_id = c.s AND ins.version = c.v;
END
$$;
