-- Tenants sharded over several PostgreSQL clusters (docs/tenancy.md,
-- "Sharding tenants over clusters").
--
-- tenant_shards is the operator's tenant -> shard map (pgstore.ShardMap).
-- Every shard's schema has the table; the application reads the one of the
-- store it names as the directory. A tenant without a row lives on the
-- map's fallback shard.
CREATE TABLE {{schema}}.tenant_shards (
    tenant_id  text        PRIMARY KEY CHECK (tenant_id <> ''),
    shard      text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- tenant_fences lists the tenants whose writes this shard refuses: a tenant
-- being copied to another shard, or already moved there. Fencing a tenant
-- (pgstore.FenceTenant) adds a row and, on every tenant-owned table, a
-- trigger whose WHEN clause names that tenant, so the other tenants' writes
-- never call its function. The triggers are created in the fencing
-- transaction, whose table locks wait for the writes already under way: a
-- write either committed before the fence or fails with SQLSTATE EF001.
CREATE TABLE {{schema}}.tenant_fences (
    tenant_id text        PRIMARY KEY CHECK (tenant_id <> ''),
    fenced_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION {{schema}}.tenant_fenced() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'eventfold: tenant % is fenced on this shard (it is moving or has moved to another): look its shard up again and retry', quote_literal(TG_ARGV[0])
        USING ERRCODE = 'EF001';
END
$$;

-- fence_tenant creates (fence true) or drops (false) the fence triggers of
-- tenant on every tenant-owned table of schema sch (this one, unquoted).
CREATE FUNCTION {{schema}}.fence_tenant(sch text, tenant text, fence boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    tbl  text;
    name text := 'tenant_fence_' || left(encode(sha256(convert_to(tenant, 'UTF8')), 'hex'), 24);
BEGIN
    FOREACH tbl IN ARRAY ARRAY['streams', 'events', 'stream_lifecycle', 'command_keys', 'snapshots', 'subject_keys'] LOOP
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
