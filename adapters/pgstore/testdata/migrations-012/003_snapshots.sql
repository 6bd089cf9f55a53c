-- The latest snapshot of each stream's state, for command handlers
-- (command.SnapshotStore). A cache: rows may be deleted at any time.
CREATE TABLE {{schema}}.snapshots (
    stream_id      text        PRIMARY KEY,
    stream_version bigint      NOT NULL CHECK (stream_version >= 1),
    schema_version integer     NOT NULL CHECK (schema_version >= 1),
    state          bytea       NOT NULL,
    saved_at       timestamptz NOT NULL DEFAULT now()
);
