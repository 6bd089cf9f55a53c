-- Command keys keep a keyed command's first outcome, refusals included,
-- and a hash of the command (eventstore.OutcomeStore), so that a retry gets
-- the same answer however the stream changed since, and a key sent with a
-- different command is caught.
--
-- A refusal is a row with a message and no position: it appended nothing.
-- Rows written before this version have no hash (NULL, unknown), which
-- never counts as a different command. Refusals live in the same table, so
-- PruneCommandKeys prunes them with the rest.
--
-- The new columns are nullable without a default and the NOT NULLs are
-- dropped, so no table is rewritten; the CHECK is NOT VALID, so it holds
-- for new rows without a scan of the old ones, which all have positions.
ALTER TABLE {{schema}}.command_keys
    ADD COLUMN command_hash    text,
    ADD COLUMN refusal_code    text,
    ADD COLUMN refusal_message text,
    ALTER COLUMN transaction_id DROP NOT NULL,
    ALTER COLUMN global_position DROP NOT NULL;
ALTER TABLE {{schema}}.command_keys ADD CONSTRAINT command_keys_outcome
    CHECK (refusal_message IS NOT NULL OR (transaction_id IS NOT NULL AND global_position IS NOT NULL)) NOT VALID;
