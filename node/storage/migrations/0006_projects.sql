-- Shared projects (FEP-1b12 groups): who takes part in each local project.
-- A remote participant is also an accepted follower of the project (follows, direction 'in'),
-- so the project's Announces reach it; a local participant is listed here only.

CREATE TABLE project_participants (
    project      TEXT NOT NULL REFERENCES local_actors (username),  -- the project actor's name
    actor        TEXT NOT NULL,             -- the participant's actor IRI (local member or remote)
    state        TEXT NOT NULL DEFAULT 'accepted' CHECK (state IN ('pending', 'accepted')),
    join_id      TEXT NOT NULL,             -- the Join activity's id
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (project, actor)
);
CREATE INDEX project_participants_actor ON project_participants (actor);
