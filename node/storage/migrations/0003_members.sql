-- Members: the network actor speaks with the admin role, and the member cards of other networks.

-- The network actor's token is the network's admin token (see docs/api.md).
UPDATE local_actors SET role = 'admin' WHERE kind = 'network';

CREATE TRIGGER network_actor_is_admin AFTER INSERT ON local_actors
WHEN NEW.kind = 'network' AND NEW.role <> 'admin'
BEGIN
    UPDATE local_actors SET role = 'admin' WHERE username = NEW.username;
END;

-- Member cards of other networks: the card itself is the cached actor document in
-- remote_actors (refreshed by Update{Person}); this row says which network vouched
-- for the member. When the actor is forgotten (Delete), the row goes with it.
CREATE TABLE remote_members (
    id           TEXT PRIMARY KEY REFERENCES remote_actors (id) ON DELETE CASCADE,
    network      TEXT NOT NULL,             -- the network actor that announced the card
    host         TEXT NOT NULL,
    first_seen   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX remote_members_network ON remote_members (network);
