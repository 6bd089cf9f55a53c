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
