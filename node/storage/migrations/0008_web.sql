-- The web pages: members' passwords (argon2 hashes) and sign-in sessions.

-- A member's password: the argon2id hash only (set with `kantine member passwd`).
CREATE TABLE passwords (
    username     TEXT PRIMARY KEY REFERENCES local_actors (username),
    hash         TEXT NOT NULL,
    updated      TEXT NOT NULL
);

-- Signed-in browsers: the cookie holds a random id; only its SHA-256 is kept.
CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES local_actors (username),
    csrf         TEXT NOT NULL,             -- the session's form token (checked on every POST)
    created      TEXT NOT NULL,
    expires      TEXT NOT NULL
);
CREATE INDEX sessions_username ON sessions (username);
CREATE INDEX sessions_expires ON sessions (expires);
