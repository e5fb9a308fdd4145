-- What a channel or thread chose for itself (a thread's row is keyed by the thread's id):
-- how its conversations are kept ('reply-chain': a conversation per reply chain; 'channel': one
-- shared history; NULL: the place's default), and a persona and model that win over the
-- server's (a thread's over its channel's).
ALTER TABLE channel_settings ADD COLUMN conversation TEXT;

ALTER TABLE channel_settings ADD COLUMN system_prompt TEXT;

ALTER TABLE channel_settings ADD COLUMN model TEXT;
