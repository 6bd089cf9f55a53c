-- Tenants (docs/tenancy.md): every tenant-owned row gets a tenant_id, ''
-- for the default tenant, and every key that names a stream, a command or a
-- subject includes it, so the same stream ID in two tenants names two
-- streams. Adding a column with a constant default rewrites no table; the
-- new primary keys and unique indexes are built once here.
--
-- The global log is untouched: positions are still (transaction_id,
-- global_position) over all tenants, and a tenant's log is the global log
-- filtered by tenant_id, with the same gap-safe horizon.

ALTER TABLE {{schema}}.streams ADD COLUMN tenant_id text NOT NULL DEFAULT '';
ALTER TABLE {{schema}}.streams DROP CONSTRAINT streams_pkey,
    ADD CONSTRAINT streams_pkey PRIMARY KEY (tenant_id, stream_id);

ALTER TABLE {{schema}}.events ADD COLUMN tenant_id text NOT NULL DEFAULT '';
ALTER TABLE {{schema}}.events DROP CONSTRAINT events_stream_version,
    ADD CONSTRAINT events_stream_version UNIQUE (tenant_id, stream_id, version);
-- A named tenant's log, for its ReadAll and Head. Partial, so appends to
-- the default tenant (single-tenant applications) pay nothing for it;
-- queries name the predicate (tenant_id <> '') to use it.
CREATE INDEX events_tenant_log ON {{schema}}.events (tenant_id, transaction_id, global_position)
    WHERE tenant_id <> '';
-- Lookups by correlation ID (operators' tools, the console). Partial, so
-- events without one cost nothing.
CREATE INDEX events_correlation_id ON {{schema}}.events ((metadata->>'correlation_id'))
    WHERE metadata->>'correlation_id' IS NOT NULL;

ALTER TABLE {{schema}}.command_keys ADD COLUMN tenant_id text NOT NULL DEFAULT '';
ALTER TABLE {{schema}}.command_keys DROP CONSTRAINT command_keys_pkey,
    ADD CONSTRAINT command_keys_pkey PRIMARY KEY (tenant_id, command_key);

ALTER TABLE {{schema}}.snapshots ADD COLUMN tenant_id text NOT NULL DEFAULT '';
ALTER TABLE {{schema}}.snapshots DROP CONSTRAINT snapshots_pkey,
    ADD CONSTRAINT snapshots_pkey PRIMARY KEY (tenant_id, stream_id);

ALTER TABLE {{schema}}.subject_keys ADD COLUMN tenant_id text NOT NULL DEFAULT '';
ALTER TABLE {{schema}}.subject_keys DROP CONSTRAINT subject_keys_pkey,
    ADD CONSTRAINT subject_keys_pkey PRIMARY KEY (tenant_id, subject);

-- The append functions take the tenant as a last argument, defaulting to
-- the default tenant, so calls written for version 6 keep working.
DROP FUNCTION {{schema}}.append_events(text, bigint, text, boolean, uuid[], text[], text[], bytea[], jsonb[]);
DROP FUNCTION {{schema}}.append_events_group(boolean, text[], bigint[], int[], int[], int[], uuid[], text[], text[], bytea[], jsonb[]);
DROP FUNCTION {{schema}}.replayed_append(text, uuid[]);

-- replayed_append as in version 4, within one tenant: an ID stored by
-- another tenant is a duplicate (outcome 3), never a replay, so no tenant
-- learns another's versions or positions.
CREATE FUNCTION {{schema}}.replayed_append(p_stream text, p_ids uuid[], p_tenant text DEFAULT '')
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
    SELECT e.tenant_id, e.stream_id, e.version INTO v_tenant, v_stream, v_version
        FROM {{schema}}.events e WHERE e.event_id = p_ids[1];
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

-- append_events as in version 6, within the tenant p_tenant: command keys,
-- the stream row, the version check and the inserted events all carry it.
-- Still one statement, so one round trip.
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
    p_tenant        text DEFAULT ''
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
            FROM {{schema}}.command_keys k WHERE k.tenant_id = p_tenant AND k.command_key = p_command_key;
        IF FOUND THEN RETURN; END IF;
    END IF;

    IF p_check_replay THEN
        RETURN QUERY SELECT * FROM {{schema}}.replayed_append(p_stream, p_ids, p_tenant);
        IF FOUND THEN RETURN; END IF;
    END IF;

    IF p_expected = -1 THEN
        INSERT INTO {{schema}}.streams AS s (tenant_id, stream_id, version) VALUES (p_tenant, p_stream, n)
            ON CONFLICT (tenant_id, stream_id) DO UPDATE SET version = s.version + n
            RETURNING s.version INTO v_new;
    ELSIF p_expected = 0 THEN
        INSERT INTO {{schema}}.streams (tenant_id, stream_id, version) VALUES (p_tenant, p_stream, n)
            ON CONFLICT (tenant_id, stream_id) DO NOTHING
            RETURNING version INTO v_new;
    ELSIF p_expected = -2 THEN
        UPDATE {{schema}}.streams s SET version = s.version + n
            WHERE s.tenant_id = p_tenant AND s.stream_id = p_stream RETURNING s.version INTO v_new;
    ELSE
        UPDATE {{schema}}.streams s SET version = s.version + n
            WHERE s.tenant_id = p_tenant AND s.stream_id = p_stream AND s.version = p_expected
            RETURNING s.version INTO v_new;
    END IF;

    IF v_new IS NULL THEN
        RETURN QUERY SELECT * FROM {{schema}}.replayed_append(p_stream, p_ids, p_tenant);
        IF FOUND THEN RETURN; END IF;
        RETURN QUERY SELECT 1, coalesce((SELECT s.version FROM {{schema}}.streams s
            WHERE s.tenant_id = p_tenant AND s.stream_id = p_stream), 0), NULL::xid8, NULL::bigint;
        RETURN;
    END IF;

    -- See 006_stream_order.sql.
    IF v_new > n AND (SELECT e.transaction_id FROM {{schema}}.events e
                      WHERE e.tenant_id = p_tenant AND e.stream_id = p_stream AND e.version = v_new - n) > pg_current_xact_id() THEN
        RAISE EXCEPTION 'eventfold: stream % was appended to by a later transaction first; retry', p_stream
            USING ERRCODE = '40001';
    END IF;

    WITH inserted AS (
        INSERT INTO {{schema}}.events AS e (tenant_id, stream_id, version, event_id, type, content_type, data, metadata)
        SELECT p_tenant, p_stream, v_new - n + u.i, u.id, u.t, u.ct, u.d, u.m
            FROM unnest(p_ids, p_types, p_content_types, p_data, p_metadata) WITH ORDINALITY AS u(id, t, ct, d, m, i)
        RETURNING e.global_position
    )
    SELECT max(inserted.global_position) INTO v_last FROM inserted;

    IF p_command_key IS NOT NULL THEN
        INSERT INTO {{schema}}.command_keys AS k (tenant_id, command_key, stream_id, stream_version, transaction_id, global_position)
            VALUES (p_tenant, p_command_key, p_stream, v_new, pg_current_xact_id(), v_last);
    END IF;
    RETURN QUERY SELECT 0, v_new, pg_current_xact_id(), v_last;
END
$$;

-- append_events_group as in version 5, with p_tenants holding each
-- command's tenant (a NULL array or element means the default tenant).
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
    p_metadata      jsonb[],
    p_tenants       text[] DEFAULT NULL
) RETURNS TABLE (command int, outcome int, stream_version bigint, transaction_id xid8, global_position bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    m        int := cardinality(p_streams);
    v_base   bigint[] := array_fill(NULL::bigint, ARRAY[cardinality(p_streams)]);
    v_new    bigint[] := array_fill(NULL::bigint, ARRAY[cardinality(p_streams)]);
    v_tenants text[] := array_fill(''::text, ARRAY[cardinality(p_streams)]);
    v_ids    uuid[];
    v_next   bigint;
    v_stream text;
    v_tenant text;
    n        bigint;
    r        record;
    any_won  boolean := false;
BEGIN
    FOR i IN 1 .. m LOOP
        v_tenants[i] := coalesce(p_tenants[i], '');
    END LOOP;
    FOR i IN 1 .. m LOOP
        v_stream := p_streams[i];
        v_tenant := v_tenants[i];
        n := p_counts[i];
        v_next := NULL;
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

        IF p_expected[i] = -1 THEN
            INSERT INTO {{schema}}.streams AS s (tenant_id, stream_id, version) VALUES (v_tenant, v_stream, n)
                ON CONFLICT (tenant_id, stream_id) DO UPDATE SET version = s.version + n
                RETURNING s.version INTO v_next;
        ELSIF p_expected[i] = 0 THEN
            INSERT INTO {{schema}}.streams (tenant_id, stream_id, version) VALUES (v_tenant, v_stream, n)
                ON CONFLICT (tenant_id, stream_id) DO NOTHING
                RETURNING version INTO v_next;
        ELSIF p_expected[i] = -2 THEN
            UPDATE {{schema}}.streams s SET version = s.version + n
                WHERE s.tenant_id = v_tenant AND s.stream_id = v_stream RETURNING s.version INTO v_next;
        ELSE
            UPDATE {{schema}}.streams s SET version = s.version + n
                WHERE s.tenant_id = v_tenant AND s.stream_id = v_stream AND s.version = p_expected[i]
                RETURNING s.version INTO v_next;
        END IF;

        IF v_next IS NULL THEN
            v_ids := p_ids[p_first[i] : p_first[i] + n - 1];
            SELECT * INTO r FROM {{schema}}.replayed_append(v_stream, v_ids, v_tenant);
            IF FOUND THEN
                command := i; outcome := r.outcome; stream_version := r.stream_version;
                transaction_id := r.transaction_id; global_position := r.global_position;
            ELSE
                command := i; outcome := 1; transaction_id := NULL; global_position := NULL;
                stream_version := coalesce((SELECT s.version FROM {{schema}}.streams s
                    WHERE s.tenant_id = v_tenant AND s.stream_id = v_stream), 0);
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
