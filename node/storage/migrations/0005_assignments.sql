-- Offers on open assignments (FEP-0837 Offer{Agreement}); the assignments themselves are
-- Proposal rows of the objects table (their open/filled/withdrawn state is objects.status).

CREATE TABLE offers (
    id           TEXT PRIMARY KEY,          -- short local id (CLI, API)
    activity_id  TEXT NOT NULL UNIQUE,      -- the Offer activity's IRI
    direction    TEXT NOT NULL CHECK (direction IN ('in', 'out')),
                                            -- in: on one of our assignments; out: our member's offer elsewhere
    assignment   TEXT NOT NULL,             -- the Proposal's IRI
    author       TEXT NOT NULL,             -- the assignment's author (who answers)
    actor        TEXT NOT NULL,             -- who offers
    state        TEXT NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'accepted', 'rejected', 'withdrawn')),
    message      TEXT NOT NULL DEFAULT '',
    answer_id    TEXT,                      -- the Accept/Reject activity's IRI
    raw          BLOB NOT NULL,             -- the Offer as sent or received (with its proof)
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX offers_assignment ON offers (assignment);
CREATE INDEX offers_actor ON offers (actor);
