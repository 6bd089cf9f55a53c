-- append_events runs an append in one statement, so one round trip, within
-- the tenant p_tenant (command keys, the stream row, the version check and
-- the inserted events all carry it). The client calls it for every append
-- but the lock-free one at an exact version outside a caller's transaction,
-- and for that one's conflicts and replays:
--  1. a recorded command key: return its first outcome (outcome 2) with the
--     key's command hash and refusal (a refusal has no position). A
--     recorded key appends nothing, whatever its hash: the client compares
--     the hashes;
--  2. when p_check_replay is set (the client's second try, after a unique
--     violation on an event ID), event IDs seen before: return the first
--     result (outcome 2), or outcome 3 if they were stored by a different
--     append (replayed_append);
--  3. the expected-version check, before any event row is written, so a
--     losing writer takes no positions; a loser whose events are already
--     stored is a retry (outcome 2), any other loser gets outcome 1 and the
--     actual version. A stream's version is its last event's, read from
--     the events table: at an exact version without a lock, otherwise under
--     the lock of the stream's row in streams, created by the appends that
--     may create the stream;
--  4. insert the events (outcome 0), and the command key with p_command_hash.
--     An event ID stored before makes the insert fail with a unique
--     violation; the client then tries once more with p_check_replay set.
-- p_expected: -1 any, -2 stream exists, 0 no stream, > 0 exact version.
--
-- The stream lifecycle (migration 015): a stream whose last event is a
-- '$stream.tombstone' was hard-deleted, and every append to it gets
-- outcome 4. A stream without readable events (a soft delete's marker, or
-- a truncation, hides them: stream_lifecycle.truncate_before is past its
-- version) counts as absent for NoStream and StreamExists, so NoStream
-- recreates it and its versions continue. Only those two look the table
-- up. A stream whose last event is a '$stream.archived' marker (migration
-- 018) was archived, and every append to it gets outcome 8.
--
-- The stream order: a transaction takes its ID at its first write, which
-- may come before it waits for the stream row's lock, so it may hold an ID
-- below that of the transaction that appended the stream's previous event.
-- The log is ordered by transaction ID, so the stream's versions would be
-- listed out of order: the append refuses with a serialization failure
-- (40001), and the client tries again in a new transaction, which gets a
-- later ID. Losing a version to a lock-free exact append is the same
-- serialization failure.

-- Signatures of earlier releases, which an upgraded schema may hold. A
-- change of the arguments or of the result columns drops the current
-- signature here too, as CREATE OR REPLACE cannot change them.
DROP FUNCTION IF EXISTS {{schema}}.append_events(text, bigint, text, uuid[], text[], text[], bytea[], jsonb[]);
DROP FUNCTION IF EXISTS {{schema}}.append_events(text, bigint, text, boolean, uuid[], text[], text[], bytea[], jsonb[]);
DROP FUNCTION IF EXISTS {{schema}}.append_events(text, bigint, text, boolean, uuid[], text[], text[], bytea[], jsonb[], text);

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
    p_tenant        text DEFAULT '',
    p_command_hash  text DEFAULT NULL
) RETURNS TABLE (outcome int, stream_version bigint, transaction_id xid8, global_position bigint,
                 command_hash text, refusal_code text, refusal_message text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n           bigint := cardinality(p_ids);
    v_cur       bigint;
    v_last      bigint;
    v_count     bigint;
    v_prev_tx   xid8;
    v_prev_type text;
    v_readable  boolean;
BEGIN
    IF p_command_key IS NOT NULL THEN
        RETURN QUERY SELECT 2, k.stream_version, k.transaction_id, k.global_position,
                k.command_hash, k.refusal_code, k.refusal_message
            FROM {{schema}}.command_keys k WHERE k.tenant_id = p_tenant AND k.command_key = p_command_key;
        IF FOUND THEN RETURN; END IF;
    END IF;

    IF p_check_replay THEN
        RETURN QUERY SELECT r.*, NULL::text, NULL::text, NULL::text FROM {{schema}}.replayed_append(p_stream, p_ids, p_tenant) r;
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
            RETURN QUERY SELECT r.*, NULL::text, NULL::text, NULL::text FROM {{schema}}.replayed_append(p_stream, p_ids, p_tenant) r;
            IF FOUND THEN RETURN; END IF;
            SELECT e.type INTO v_prev_type FROM {{schema}}.events e
                WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream AND e.version = v_cur;
            IF v_prev_type IN ('$stream.tombstone', '$stream.archived') THEN
                RETURN QUERY SELECT CASE WHEN v_prev_type = '$stream.archived' THEN 8 ELSE 4 END,
                    v_cur, NULL::xid8, NULL::bigint, NULL::text, NULL::text, NULL::text;
                RETURN;
            END IF;
            RETURN QUERY SELECT 1, v_cur, NULL::xid8, NULL::bigint, NULL::text, NULL::text, NULL::text;
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

    -- The last event: a tombstone ends the stream; its transaction ID is
    -- the stream order's (below).
    v_readable := v_cur > 0;
    IF v_cur > 0 THEN
        SELECT e.transaction_id, e.type INTO v_prev_tx, v_prev_type FROM {{schema}}.events e
            WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream AND e.version = v_cur;
        IF v_prev_type IN ('$stream.tombstone', '$stream.archived') THEN
            RETURN QUERY SELECT CASE WHEN v_prev_type = '$stream.archived' THEN 8 ELSE 4 END,
                v_cur, NULL::xid8, NULL::bigint, NULL::text, NULL::text, NULL::text;
            RETURN;
        END IF;
        IF p_expected IN (0, -2) THEN
            v_readable := v_cur >= coalesce((SELECT l.truncate_before FROM {{schema}}.stream_lifecycle l
                WHERE l.tenant_id = p_tenant AND l.stream_id = p_stream), 1);
        END IF;
    END IF;

    IF v_cur IS NULL OR (p_expected > 0 AND v_cur <> p_expected)
            OR (p_expected = 0 AND v_readable) OR (p_expected = -2 AND NOT v_readable) THEN
        RETURN QUERY SELECT r.*, NULL::text, NULL::text, NULL::text FROM {{schema}}.replayed_append(p_stream, p_ids, p_tenant) r;
        IF FOUND THEN RETURN; END IF;
        RETURN QUERY SELECT 1, coalesce(v_cur, 0), NULL::xid8, NULL::bigint, NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;

    -- The stream order: see the header.
    IF v_cur > 0 AND v_prev_tx > pg_current_xact_id() THEN
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
        INSERT INTO {{schema}}.command_keys AS k (tenant_id, command_key, stream_id, stream_version, transaction_id, global_position, command_hash)
            VALUES (p_tenant, p_command_key, p_stream, v_cur + n, pg_current_xact_id(), v_last, p_command_hash);
    END IF;
    RETURN QUERY SELECT 0, v_cur + n, pg_current_xact_id(), v_last, p_command_hash, NULL::text, NULL::text;
END
$$;
