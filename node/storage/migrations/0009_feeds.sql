-- Calendar feeds: each member's private calendar URL. The URL holds a random token;
-- only its SHA-256 is kept, so a lost link cannot be shown again (make a new one).

CREATE TABLE calendar_tokens (
    username     TEXT PRIMARY KEY REFERENCES local_actors (username),
    token_hash   TEXT NOT NULL UNIQUE,
    created      TEXT NOT NULL
);
