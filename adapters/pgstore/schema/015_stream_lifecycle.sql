-- Stream lifecycle (docs/stream-lifecycle.md): soft deletes, hard deletes
-- and truncations. A stream any of them touched has a row here:
-- truncate_before is its first version ReadStream returns, and tombstoned
-- marks a hard delete. Streams never deleted or truncated have no row, so
-- the table stays small and a read pays one probe of its primary key.
--
-- The markers themselves are events: a soft delete appends a
-- '$stream.deleted' event to the stream and a hard delete a
-- '$stream.tombstone' event (after removing the stream's events), each at
-- the version after the stream's last, so an append racing them loses on
-- events_stream_version as it would to any append. A truncation appends
-- '$stream.truncated' to the stream's metadata stream ('$$' and the
-- stream ID). append_events (functions/append_events.sql) refuses appends
-- to a tombstoned stream and lets NoStream recreate a soft-deleted one;
-- delete_stream and truncate_stream run the operations.
--
-- Upgrading takes no lock beyond creating the table: nothing is rewritten.

CREATE TABLE {{schema}}.stream_lifecycle (
    tenant_id       text        NOT NULL DEFAULT '',
    stream_id       text        NOT NULL,
    truncate_before bigint      NOT NULL,
    tombstoned      boolean     NOT NULL DEFAULT false,
    changed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, stream_id)
);
