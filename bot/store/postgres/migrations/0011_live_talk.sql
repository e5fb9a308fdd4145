-- Live talk in voice channels: what each server chose, and the talk time it used per day.
CREATE TABLE talk_settings (
    guild_id        TEXT PRIMARY KEY,
    enabled         INTEGER NOT NULL DEFAULT 0,
    minutes_per_day INTEGER NOT NULL,
    idle_minutes    INTEGER NOT NULL,
    caption_members INTEGER NOT NULL DEFAULT 0,
    roles           TEXT NOT NULL DEFAULT '',
    updated_at      TEXT NOT NULL
);

CREATE TABLE talk_time (
    guild_id TEXT NOT NULL,
    day      TEXT NOT NULL,
    seconds  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (guild_id, day)
);
