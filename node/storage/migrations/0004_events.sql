-- Meetups: the settings of our own events, recurring series, and RSVPs (to our events, and
-- our members' RSVPs to other nodes' events). The published documents live in `objects`.

CREATE TABLE event_series (
    id           TEXT PRIMARY KEY,          -- the series' IRI ({base}/series/{ident})
    ident        TEXT NOT NULL UNIQUE,
    author       TEXT NOT NULL REFERENCES local_actors (username),  -- the network or a project
    rrule        TEXT NOT NULL,             -- RFC 5545 RRULE, without DTSTART
    dtstart      TEXT NOT NULL,             -- first start, wall time in the template's time zone (no offset)
    duration     INTEGER,                   -- seconds from start to end; NULL: no end time
    template     TEXT NOT NULL,             -- JSON: what every occurrence starts from
    horizon_days INTEGER,                   -- how far ahead occurrences are published; NULL: the node's setting
    cancelled    INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT
);

CREATE TABLE events (
    id           TEXT PRIMARY KEY,          -- the Event's IRI ({base}/events/{ident})
    ident        TEXT NOT NULL UNIQUE,
    author       TEXT NOT NULL REFERENCES local_actors (username),  -- signs: the network or a project
    spec         TEXT NOT NULL,             -- JSON: title, description, time zone, place, capacity, ...
    start_time   TEXT NOT NULL,             -- UTC, fixed width
    end_time     TEXT,
    status       TEXT NOT NULL DEFAULT 'EventScheduled',
    series       TEXT REFERENCES event_series (id),
    occurrence   TEXT,                      -- the RRULE instance (UTC) this occurrence stands for
    count_dirty  INTEGER NOT NULL DEFAULT 0,  -- the participant count changed since the last Update
    count_published_at TEXT,                -- when an Update last carried the count
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT,
    UNIQUE (series, occurrence)
);
CREATE INDEX events_start ON events (start_time);
CREATE INDEX events_dirty ON events (count_dirty, count_published_at);

CREATE TABLE event_participants (
    event        TEXT NOT NULL,             -- the Event's IRI (ours, or a remote one a member joined)
    actor        TEXT NOT NULL,             -- the participant's actor IRI
    state        TEXT NOT NULL
                 CHECK (state IN ('pending', 'accepted', 'waitlist', 'rejected', 'left')),
    join_id      TEXT NOT NULL,             -- the Join's id; answers refer to it
    joined_at    TEXT NOT NULL,             -- the latest Join: the waitlist's order
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (event, actor)
);
CREATE INDEX event_participants_state ON event_participants (event, state, joined_at);
CREATE INDEX event_participants_join ON event_participants (join_id);
