-- Kantine schema v10: the inbox's duplicate check on a 64-bit hash of the activity id.
--
-- A UNIQUE index on the id itself (long URLs with a shared prefix, arriving in random
-- order) made every stored activity a string-compared descent into a wide index and
-- dirtied a page of it: most of the cost of storing one. The hash column is a short
-- integer key; the full id is compared when hashes match (node/storage/inbox.py), so a
-- collision never merges two activities. SQLite cannot drop a UNIQUE constraint, so the
-- table is rebuilt (same columns, same seqs, same AUTOINCREMENT counter).
CREATE TABLE inbox_v10 (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    activity_id  TEXT NOT NULL,
    id_hash      INTEGER NOT NULL,            -- kantine_id_hash(activity_id)
    actor        TEXT NOT NULL,
    type         TEXT NOT NULL,
    signer       TEXT NOT NULL,
    host         TEXT NOT NULL,
    recipient    TEXT,
    received_at  TEXT NOT NULL,
    raw          BLOB NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'discarded', 'failed')),
    processed_at TEXT,
    note         TEXT
);
INSERT INTO inbox_v10 (seq, activity_id, id_hash, actor, type, signer, host, recipient,
                       received_at, raw, state, processed_at, note)
    SELECT seq, activity_id, kantine_id_hash(activity_id), actor, type, signer, host, recipient,
           received_at, raw, state, processed_at, note
    FROM inbox ORDER BY seq;
DELETE FROM sqlite_sequence WHERE name = 'inbox_v10';
INSERT INTO sqlite_sequence (name, seq) SELECT 'inbox_v10', seq FROM sqlite_sequence WHERE name = 'inbox';
DROP TABLE inbox;
ALTER TABLE inbox_v10 RENAME TO inbox;
CREATE INDEX inbox_pending ON inbox (state, seq);
CREATE INDEX inbox_id_hash ON inbox (id_hash);
