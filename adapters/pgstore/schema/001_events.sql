-- eventfold event store, version 1. {{schema}} is replaced by the quoted
-- schema name when the migration runs. The functions live in functions/,
-- one file each, applied after the numbered migrations.

CREATE TABLE {{schema}}.streams (
    stream_id text   PRIMARY KEY,
    version   bigint NOT NULL
) WITH (fillfactor = 80); -- every append updates its stream row: leave room for HOT updates

CREATE TABLE {{schema}}.events (
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    global_position bigint      GENERATED ALWAYS AS IDENTITY (CACHE 1),
    stream_id       text        NOT NULL,
    version         bigint      NOT NULL,
    event_id        uuid        NOT NULL,
    type            text        NOT NULL,
    content_type    text        NOT NULL,
    data            bytea       NOT NULL,
    metadata        jsonb,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    -- The tail index: readers scan (transaction_id, global_position) ranges.
    PRIMARY KEY (transaction_id, global_position),
    CONSTRAINT events_stream_version UNIQUE (stream_id, version),
    CONSTRAINT events_event_id UNIQUE (event_id)
);

-- Command idempotency keys, written in the same transaction as the append.
CREATE TABLE {{schema}}.command_keys (
    command_key     text        PRIMARY KEY,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL,
    transaction_id  xid8        NOT NULL,
    global_position bigint      NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX command_keys_recorded_at ON {{schema}}.command_keys (recorded_at);
