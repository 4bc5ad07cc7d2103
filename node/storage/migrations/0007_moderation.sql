-- Moderation: Flag reports received and sent; node-wide actor blocks use actor_blocks (local = '*').

CREATE TABLE reports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    direction    TEXT NOT NULL CHECK (direction IN ('in', 'out')),  -- in: a Flag we received
    activity_id  TEXT NOT NULL UNIQUE,        -- the Flag's id
    reporter     TEXT NOT NULL,               -- the actor that sent the Flag (ours for 'out')
    host         TEXT NOT NULL,               -- the reporter's host ('in'), the receiving host ('out')
    target       TEXT NOT NULL,               -- the reported actor (or the first object)
    objects      TEXT NOT NULL DEFAULT '[]',  -- JSON list of every IRI the Flag names
    reason       TEXT NOT NULL DEFAULT '',    -- the Flag's content (the reporter's words)
    state        TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved', 'sent')),
    raw          BLOB,                        -- the verified Flag as received ('in')
    created_at   TEXT NOT NULL,
    resolved_at  TEXT
);
CREATE INDEX reports_state ON reports (direction, state, id);

-- Every moderation decision an admin makes (CLI or API), for the admins to read back.
CREATE TABLE moderation_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    by          TEXT NOT NULL,                -- who decided: 'cli' or the admin's username
    action      TEXT NOT NULL,                -- block, unblock, allow, disallow, block-actor, ...
    subject     TEXT NOT NULL,                -- the host, actor or report concerned
    detail      TEXT NOT NULL DEFAULT ''
);
