-- Stream archive (docs/stream-lifecycle.md, "Archiving"; docs/design.md
-- §15). ArchiveStream (functions/archive_stream.sql) seals a finished
-- stream and moves its events here, the cold table, in one transaction
-- under the lock of the stream's row that appends take:
--  * a '$stream.archived' marker is appended to the stream at the version
--    after its last, so the log tells readers, and an append racing the
--    archive loses on events_stream_version as it would to any append;
--  * every stored event of the stream is copied here with its position,
--    then erased in place in events (type '$stream.erased', no data, as a
--    hard delete erases): the row keeps its version and event ID taken,
--    so no stale writer can reuse a version and no other event can take
--    an archived event's ID, while its payload (the bulk of
--    the table, and all of its TOAST) leaves the hot table;
--  * stream_lifecycle marks the stream archived and hides everything up
--    to the marker from ReadStream.
-- append_events and the append fast path refuse appends after the marker.
--
-- events_archive is a plain table, not a partition of events: events
-- keeps its unique indexes on its own, appends pay nothing, and upgrading
-- rewrites nothing. Adding stream_lifecycle.archived with a constant
-- default is a catalog change only (PostgreSQL 11 and later).

CREATE TABLE {{schema}}.events_archive (
    tenant_id       text        NOT NULL DEFAULT '',
    stream_id       text        NOT NULL,
    version         bigint      NOT NULL,
    transaction_id  xid8        NOT NULL,
    global_position bigint      NOT NULL,
    event_id        uuid        NOT NULL,
    type            text        NOT NULL,
    content_type    text        NOT NULL,
    data            bytea       NOT NULL,
    metadata        jsonb,
    recorded_at     timestamptz NOT NULL,
    archived_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, stream_id, version)
);

ALTER TABLE {{schema}}.stream_lifecycle ADD COLUMN archived boolean NOT NULL DEFAULT false;

-- fence_tenant as in 017, with events_archive among the tenant-owned
-- tables: a tenant being moved cannot archive behind the copy's back.
CREATE OR REPLACE FUNCTION {{schema}}.fence_tenant(sch text, tenant text, fence boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    tbl  text;
    name text := 'tenant_fence_' || left(encode(sha256(convert_to(tenant, 'UTF8')), 'hex'), 24);
BEGIN
    FOREACH tbl IN ARRAY ARRAY['streams', 'events', 'stream_lifecycle', 'command_keys', 'snapshots', 'subject_keys', 'events_archive'] LOOP
        IF fence THEN
            EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE ON %I.%I FOR EACH ROW WHEN (NEW.tenant_id = %L) EXECUTE FUNCTION %I.tenant_fenced(%L)',
                name || '_w', sch, tbl, tenant, sch, tenant);
            EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE DELETE ON %I.%I FOR EACH ROW WHEN (OLD.tenant_id = %L) EXECUTE FUNCTION %I.tenant_fenced(%L)',
                name || '_d', sch, tbl, tenant, sch, tenant);
        ELSE
            EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I.%I', name || '_w', sch, tbl);
            EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I.%I', name || '_d', sch, tbl);
        END IF;
    END LOOP;
END
$$;

-- Tenants fenced before this migration get the triggers on the new table.
-- The schema's name comes from the catalog, through tableoid (a literal
-- would break on a schema name with a quote in it).
DO $$
DECLARE
    t   text;
    sch text;
BEGIN
    FOR t, sch IN SELECT f.tenant_id, n.nspname FROM {{schema}}.tenant_fences f
            JOIN pg_class c ON c.oid = f.tableoid JOIN pg_namespace n ON n.oid = c.relnamespace LOOP
        PERFORM {{schema}}.fence_tenant(sch, t, true);
    END LOOP;
END
$$;

-- events_archive takes stream_lifecycle's row-level security and grants,
-- so that a schema whose owner ran EnableRowLevelSecurity and granted the
-- application's role its tables keeps working, and isolating tenants,
-- without another step. schema_migrations always has rows here: its
-- tableoid names the schema.
DO $$
DECLARE
    sch  text;
    life regclass;
    rls  boolean;
    frls boolean;
    g    record;
BEGIN
    SELECT n.nspname INTO sch FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = (SELECT m.tableoid FROM {{schema}}.schema_migrations m LIMIT 1);
    SELECT c.oid, c.relrowsecurity, c.relforcerowsecurity INTO life, rls, frls FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = sch AND c.relname = 'stream_lifecycle';
    IF rls THEN
        EXECUTE format('ALTER TABLE %I.events_archive ENABLE ROW LEVEL SECURITY', sch);
        IF frls THEN
            EXECUTE format('ALTER TABLE %I.events_archive FORCE ROW LEVEL SECURITY', sch);
        END IF;
        EXECUTE format('CREATE POLICY eventfold_tenant ON %I.events_archive'
            ' USING (tenant_id <> %L AND tenant_id = current_setting(%L, true))'
            ' WITH CHECK (tenant_id <> %L AND tenant_id = current_setting(%L, true))',
            sch, '', 'eventfold.tenant', '', 'eventfold.tenant');
    END IF;
    FOR g IN SELECT a.grantee, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a
            WHERE c.oid = life AND a.grantee <> c.relowner LOOP
        EXECUTE format('GRANT %s ON %I.events_archive TO %s', g.privilege_type, sch,
            CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(g.grantee)) END);
    END LOOP;
END
$$;
