-- replayed_append returns the result of the earlier append of tenant
-- p_tenant that stored p_ids to stream p_stream (outcome 2), outcome 3 when
-- the first ID was stored by a different append (of this tenant or
-- another: an ID stored by another tenant is a duplicate, never a replay,
-- so no tenant learns another's versions or positions), and no row when it
-- is not stored at all.

-- The signature of earlier releases, which an upgraded schema may hold.
DROP FUNCTION IF EXISTS {{schema}}.replayed_append(text, uuid[]);

CREATE OR REPLACE FUNCTION {{schema}}.replayed_append(p_stream text, p_ids uuid[], p_tenant text DEFAULT '')
RETURNS TABLE (outcome int, stream_version bigint, transaction_id xid8, global_position bigint)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    n          bigint := cardinality(p_ids);
    v_tenant   text;
    v_stream   text;
    v_version  bigint;
    v_matching bigint;
BEGIN
    -- An erased event (a hard delete's, see delete_stream) is no replay:
    -- the append goes on to find the tombstone.
    SELECT e.tenant_id, e.stream_id, e.version INTO v_tenant, v_stream, v_version
        FROM {{schema}}.events e WHERE e.event_id = p_ids[1] AND e.type <> '$stream.erased';
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT count(*) INTO v_matching
        FROM unnest(p_ids) WITH ORDINALITY AS u(id, i)
        JOIN {{schema}}.events e ON e.event_id = u.id
        WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream AND e.version = v_version + u.i - 1;
    IF v_tenant = p_tenant AND v_stream = p_stream AND v_matching = n THEN
        RETURN QUERY SELECT 2, e.version, e.transaction_id, e.global_position
            FROM {{schema}}.events e
            WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream AND e.version = v_version + n - 1;
    ELSE
        RETURN QUERY SELECT 3, 0::bigint, NULL::xid8, NULL::bigint;
    END IF;
END
$$;
