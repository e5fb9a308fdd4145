-- Per-server and per-member preferences, channel roles, and a token-usage ledger.
CREATE TABLE guild_settings (
    guild_id        TEXT PRIMARY KEY,
    model           TEXT,
    voice           TEXT,
    reply_mode      TEXT,
    thinking        INTEGER,
    system_prompt   TEXT,
    daily_token_cap INTEGER,
    updated_at      TEXT NOT NULL
);

CREATE TABLE member_settings (
    guild_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    voice      TEXT,
    reply_mode TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

CREATE TABLE channel_settings (
    channel_id   TEXT PRIMARY KEY,
    guild_id     TEXT NOT NULL,
    chat         INTEGER NOT NULL DEFAULT 0,
    auto_caption INTEGER NOT NULL DEFAULT 0,
    updated_at   TEXT NOT NULL
);

CREATE TABLE usage (
    id                INTEGER PRIMARY KEY,
    day               TEXT    NOT NULL,
    guild_id          TEXT    NOT NULL DEFAULT '',
    channel_id        TEXT    NOT NULL DEFAULT '',
    user_id           TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created_at        TEXT    NOT NULL
);

CREATE INDEX usage_by_user_day ON usage (user_id, day);

CREATE INDEX usage_by_guild_day ON usage (guild_id, day);
