-- One encryption key per data subject, for crypto-shredding
-- (command.KeyStore). Deleting a row makes every event field encrypted with
-- that key unreadable for good; back-ups keep the key until they expire.
CREATE TABLE {{schema}}.subject_keys (
    subject    text        PRIMARY KEY,
    key        bytea       NOT NULL CHECK (length(key) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
