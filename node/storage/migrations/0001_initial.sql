-- Kantine schema v1: actors, inbox, outbox, follows, deliveries, hosts, remote cache.

CREATE TABLE local_actors (
    username     TEXT PRIMARY KEY,           -- the WebFinger name (acct:{username}@{host})
    kind         TEXT NOT NULL CHECK (kind IN ('network', 'instance', 'member', 'project')),
    path         TEXT NOT NULL UNIQUE,       -- e.g. /network, /actor, /members/anna
    name         TEXT NOT NULL,
    summary      TEXT NOT NULL DEFAULT '',
    profile      TEXT NOT NULL DEFAULT '{}', -- JSON: card fields, roles, visibility
    rsa_pem      TEXT NOT NULL,
    ed25519_pem  TEXT NOT NULL,
    manually_approves INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT
);

CREATE TABLE inbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    activity_id  TEXT NOT NULL UNIQUE,
    actor        TEXT NOT NULL,
    type         TEXT NOT NULL,
    signer       TEXT NOT NULL,               -- key id that signed the request
    host         TEXT NOT NULL,               -- authority of the actor
    recipient    TEXT,                        -- local username for a personal inbox; NULL = shared
    received_at  TEXT NOT NULL,
    raw          BLOB NOT NULL,               -- the verified bytes, exactly as received
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'discarded', 'failed')),
    processed_at TEXT,
    note         TEXT
);
CREATE INDEX inbox_pending ON inbox (state, seq);

CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    activity_id  TEXT NOT NULL UNIQUE,
    actor        TEXT NOT NULL,               -- local username
    type         TEXT NOT NULL,
    object_id    TEXT,
    public       INTEGER NOT NULL DEFAULT 1,
    raw          BLOB NOT NULL,               -- the signed document (with its proof)
    published_at TEXT NOT NULL
);
CREATE INDEX outbox_actor ON outbox (actor, seq);
CREATE INDEX outbox_object ON outbox (object_id);

CREATE TABLE follows (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    local        TEXT NOT NULL REFERENCES local_actors (username),
    remote       TEXT NOT NULL,               -- remote actor IRI
    direction    TEXT NOT NULL CHECK (direction IN ('in', 'out')),  -- in: remote follows local
    state        TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'rejected')),
    activity_id  TEXT NOT NULL,               -- the Follow's id
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (local, remote, direction)
);
CREATE INDEX follows_remote ON follows (remote);

CREATE TABLE remote_actors (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    type         TEXT NOT NULL,
    inbox        TEXT NOT NULL,
    shared_inbox TEXT,
    rfc9421      INTEGER NOT NULL DEFAULT 0,  -- FEP-844e implements RFC 9421 and has an Ed25519 Multikey
    raw          BLOB NOT NULL,
    fetched_at   TEXT NOT NULL
);
CREATE INDEX remote_actors_host ON remote_actors (host);

CREATE TABLE remote_keys (
    key_id       TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('rsa', 'ed25519')),
    pem          TEXT NOT NULL,               -- SPKI PEM for both kinds
    fetched_at   TEXT NOT NULL
);
CREATE INDEX remote_keys_owner ON remote_keys (owner);

CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_seq   INTEGER NOT NULL REFERENCES outbox (seq),
    inbox_url    TEXT NOT NULL,
    host         TEXT NOT NULL,
    object_id    TEXT,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'inflight', 'done', 'failed', 'cancelled')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      TEXT NOT NULL,
    last_status  INTEGER,
    last_error   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (outbox_seq, inbox_url)
);
CREATE INDEX deliveries_due ON deliveries (state, next_at);
CREATE INDEX deliveries_object ON deliveries (object_id, state);

CREATE TABLE hosts (
    host                 TEXT PRIMARY KEY,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    open_until           TEXT,
    first_failure_at     TEXT,
    unavailable          INTEGER NOT NULL DEFAULT 0,
    last_probe_at        TEXT,
    last_success_at      TEXT
);

CREATE TABLE domain_blocks (
    host        TEXT PRIMARY KEY,
    reason      TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

CREATE TABLE domain_allows (
    host        TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);

CREATE TABLE actor_blocks (
    local       TEXT NOT NULL,
    remote      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (local, remote)
);
