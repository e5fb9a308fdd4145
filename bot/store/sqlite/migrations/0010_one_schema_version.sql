-- One schema version for both backends: from here on SQLite and PostgreSQL number their
-- migrations alike. The index PostgreSQL always had for a server's channels, here too.
CREATE INDEX IF NOT EXISTS channel_settings_by_guild ON channel_settings (guild_id);
