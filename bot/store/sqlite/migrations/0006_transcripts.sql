-- Transcripts: what each auto-caption channel posts, and the language transcripts are
-- translated into (a server's choice, and a member's own for the transcripts they ask for).

-- 'transcript' (the words), 'description' (the captioner's account) or 'both'. New caption
-- channels get transcripts; channels already captioning keep the descriptions their admins
-- turned on.
ALTER TABLE channel_settings ADD COLUMN caption_mode TEXT NOT NULL DEFAULT 'transcript';

UPDATE channel_settings SET caption_mode = 'description' WHERE auto_caption = 1;

-- A language name, 'none' (a member opting out of the server's translation), or NULL (unset).
ALTER TABLE guild_settings ADD COLUMN caption_language TEXT;

ALTER TABLE member_settings ADD COLUMN caption_language TEXT;
