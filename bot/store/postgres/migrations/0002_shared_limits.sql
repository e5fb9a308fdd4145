-- What several bot processes sharing this database count together. Times are the database's
-- clock, so processes on hosts whose clocks disagree still agree on these. Leases expire on
-- their own, so a process that dies holding one frees it within its time to live.

-- A holder is one acquisition's token ("host:pid:random/n"), never reused.

-- One reply at a time per conversation: a lease per held scope.
CREATE TABLE scope_leases (
    scope      TEXT        PRIMARY KEY,
    holder     TEXT        NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL
);

-- Replies under way per key (a server): one lease per slot taken.
CREATE TABLE slot_leases (
    holder     TEXT        PRIMARY KEY,
    key        TEXT        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX slot_leases_by_key ON slot_leases (key);

-- The last request recorded under each cooldown key.
CREATE TABLE cooldowns (
    key     TEXT        PRIMARY KEY,
    last_at TIMESTAMPTZ NOT NULL
);

-- Requests to the model service in the last minute (older ones are pruned as they go).
CREATE TABLE upstream_requests (
    id BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL
);

CREATE INDEX upstream_requests_by_time ON upstream_requests (at);
