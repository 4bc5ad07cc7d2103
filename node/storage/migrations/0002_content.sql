-- Content shared by every kind: roles, API tokens, and the objects table (local and remote).

ALTER TABLE local_actors ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('admin', 'organiser', 'member'));

CREATE TABLE api_tokens (
    token_hash   TEXT PRIMARY KEY,          -- sha256 of the bearer token; the token itself is never stored
    username     TEXT NOT NULL REFERENCES local_actors (username),
    label        TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    last_used_at TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (username);

-- Every content object the node knows: its own (local = 1) and what peers sent (local = 0).
CREATE TABLE objects (
    id           TEXT PRIMARY KEY,          -- the object's IRI
    type         TEXT NOT NULL,             -- Event, Proposal, Note, Agreement, ...
    author       TEXT NOT NULL,             -- attributedTo (the network for meetups, the member otherwise)
    local        INTEGER NOT NULL,
    visibility   TEXT NOT NULL CHECK (visibility IN ('public', 'cooperative', 'network')),
    host         TEXT NOT NULL,             -- authority of the object's id
    origin_actor TEXT,                      -- remote: the actor that delivered or announced it
    audience     TEXT,                      -- a project (or other group) it is addressed to
    name         TEXT NOT NULL DEFAULT '',
    start_time   TEXT,                      -- events: UTC, fixed width (sortable)
    end_time     TEXT,
    status       TEXT,                      -- events: eventStatus; assignments: open/filled/withdrawn
    series       TEXT,                      -- events: the series this occurrence belongs to
    raw          BLOB NOT NULL,             -- the document (with its proof), exactly as published or received
    published    TEXT NOT NULL,
    updated      TEXT NOT NULL,
    deleted_at   TEXT
);
CREATE INDEX objects_type_start ON objects (type, start_time);
CREATE INDEX objects_author ON objects (author);
CREATE INDEX objects_series ON objects (series);
CREATE INDEX objects_audience ON objects (audience);
