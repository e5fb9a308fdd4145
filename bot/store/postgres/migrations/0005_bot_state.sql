-- Small facts the bot keeps about itself (as SQLite's 0008), by key: the hash of the slash
-- commands last synced for an application ('commands:<application id>'), and which process is
-- syncing them now ('commands-sync:<application id>', its value the claim's expiry as an
-- ISO 8601 UTC time on the database's clock).
CREATE TABLE bot_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Daily totals for `/omni usage` and `omnicord usage` over the whole bot.
CREATE INDEX usage_by_day ON usage (day);
