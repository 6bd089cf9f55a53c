-- Checkpoints of log consumers that keep theirs in PostgreSQL, such as the
-- Watermill relay. Projections keep theirs in the read-model store instead.
CREATE TABLE {{schema}}.checkpoints (
    name            text        PRIMARY KEY,
    transaction_id  xid8        NOT NULL,
    global_position bigint      NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
