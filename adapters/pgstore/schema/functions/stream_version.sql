-- The version of a stream: its last event's, 0 when it has none. One probe
-- of events_stream_version from the top. For listings; append_events
-- writes the query out, as plpgsql caches its plans but not those of the
-- SQL functions it calls.
CREATE OR REPLACE FUNCTION {{schema}}.stream_version(p_tenant text, p_stream text)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT e.version FROM {{schema}}.events e
        WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream
        ORDER BY e.version DESC LIMIT 1), 0)
$$;
