-- The language Omnicord speaks in a server's channels (refusals, notices, captions' headers),
-- as a catalogue language code ('ja', 'zh-CN', ...); NULL: the server's preferred locale in
-- Discord.
ALTER TABLE guild_settings ADD COLUMN language TEXT;
