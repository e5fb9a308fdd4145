-- One schema version for both backends: from here on SQLite and PostgreSQL number their
-- migrations alike (versions 7 to 9 were never used here). The server channels' index is
-- created by 0001 on PostgreSQL; nothing else changes.
CREATE INDEX IF NOT EXISTS channel_settings_by_guild ON channel_settings (guild_id);
