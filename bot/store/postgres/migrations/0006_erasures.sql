-- Erasures as facts every process consults (SQLite's 0009 is the same schema).

-- A tombstone per erased member ('member': a user id) and per deleted or edited message
-- ('deleted', 'edited': a message id), with when it happened. A turn or usage row written
-- later for content created before its member's erasure, or from a deleted or edited
-- message, is never kept. Tombstones go after a day: no reply takes that long.
CREATE TABLE erasures (
    kind      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    erased_at TEXT NOT NULL,
    PRIMARY KEY (kind, subject)
);

CREATE INDEX erasures_by_time ON erasures (erased_at);

-- A key per write, so a write retried after a lost connection is stored once.
ALTER TABLE turns ADD COLUMN write_key TEXT;

CREATE UNIQUE INDEX turns_by_write_key ON turns (write_key);

ALTER TABLE usage ADD COLUMN write_key TEXT;

CREATE UNIQUE INDEX usage_by_write_key ON usage (write_key);

-- The token of the request a cooldown last recorded, so recording it again (a retry after a
-- lost connection) is not mistaken for a second request.
ALTER TABLE cooldowns ADD COLUMN hit TEXT;
