-- Stream lifecycle (docs/stream-lifecycle.md): soft deletes, hard deletes,
-- truncations and retention. A stream any of them touched has a row here:
-- truncate_before is its first version ReadStream returns, tombstoned
-- marks a hard delete, and max_age and max_count (NULL for none) are the
-- retention ReadStream applies. Streams never deleted, truncated or given
-- a retention have no row, so the table stays small and a read pays a
-- probe of its primary key.
--
-- The markers themselves are events: a soft delete appends a
-- '$stream.deleted' event to the stream and a hard delete a
-- '$stream.tombstone' event (after removing the stream's events), each at
-- the version after the stream's last, so an append racing them loses on
-- events_stream_version as it would to any append. A truncation appends
-- '$stream.truncated' to the stream's metadata stream ('$$' and the
-- stream ID). append_events (functions/append_events.sql) refuses appends
-- to a tombstoned stream and lets NoStream recreate a soft-deleted one;
-- delete_stream, truncate_stream and set_stream_metadata run the
-- operations.
--
-- Reclaiming (Store.ReclaimStreams) erases the events no read returns in
-- place, as a hard delete does: the row stays, without data, so that its
-- version stays taken, and ReadAll and ReadStream leave it out.
--
-- Upgrading takes no lock beyond creating the table: nothing is rewritten.

CREATE TABLE {{schema}}.stream_lifecycle (
    tenant_id       text        NOT NULL DEFAULT '',
    stream_id       text        NOT NULL,
    truncate_before bigint      NOT NULL,
    tombstoned      boolean     NOT NULL DEFAULT false,
    max_age         interval,
    max_count       bigint,
    changed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, stream_id)
);
