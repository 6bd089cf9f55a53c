-- Command keys keep a keyed command's first outcome, refusals included,
-- and a hash of the command (eventstore.OutcomeStore), so that a retry gets
-- the same answer however the stream changed since, and a key sent with a
-- different command is caught.
--
-- A refusal is a row with a message and no position: it appended nothing.
-- Rows written before this version have no hash (NULL, unknown), which
-- never counts as a different command. Refusals live in the same table, so
-- PruneCommandKeys prunes them with the rest.
--
-- The new columns are nullable without a default and the NOT NULLs are
-- dropped, so no table is rewritten; the CHECK is NOT VALID, so it holds
-- for new rows without a scan of the old ones, which all have positions.
ALTER TABLE {{schema}}.command_keys
    ADD COLUMN command_hash    text,
    ADD COLUMN refusal_code    text,
    ADD COLUMN refusal_message text,
    ALTER COLUMN transaction_id DROP NOT NULL,
    ALTER COLUMN global_position DROP NOT NULL;
ALTER TABLE {{schema}}.command_keys ADD CONSTRAINT command_keys_outcome
    CHECK (refusal_message IS NOT NULL OR (transaction_id IS NOT NULL AND global_position IS NOT NULL)) NOT VALID;

-- append_events as in version 9, with the command's hash stored with its
-- key (p_command_hash, last, so calls written for version 9 keep working)
-- and a recorded key's hash and refusal returned with outcome 2 (a refusal
-- has no position). A recorded key still appends nothing, whatever its
-- hash: the client compares the hashes. Still one statement, so one round
-- trip. The result columns change, so the function is dropped first.
DROP FUNCTION {{schema}}.append_events(text, bigint, text, boolean, uuid[], text[], text[], bytea[], jsonb[], text);

CREATE FUNCTION {{schema}}.append_events(
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
    n      bigint := cardinality(p_ids);
    v_cur  bigint;
    v_last bigint;
    v_count bigint;
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

    IF v_cur IS NULL OR (p_expected >= 0 AND v_cur <> p_expected) THEN
        RETURN QUERY SELECT r.*, NULL::text, NULL::text, NULL::text FROM {{schema}}.replayed_append(p_stream, p_ids, p_tenant) r;
        IF FOUND THEN RETURN; END IF;
        RETURN QUERY SELECT 1, coalesce(v_cur, 0), NULL::xid8, NULL::bigint, NULL::text, NULL::text, NULL::text;
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
        INSERT INTO {{schema}}.command_keys AS k (tenant_id, command_key, stream_id, stream_version, transaction_id, global_position, command_hash)
            VALUES (p_tenant, p_command_key, p_stream, v_cur + n, pg_current_xact_id(), v_last, p_command_hash);
    END IF;
    RETURN QUERY SELECT 0, v_cur + n, pg_current_xact_id(), v_last, p_command_hash, NULL::text, NULL::text;
END
$$;
