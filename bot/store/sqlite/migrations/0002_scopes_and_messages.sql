-- Conversations learn what kind of place they live in; turns remember the messages they came
-- from and the reply messages sent for them, so a platform can link history to its messages.
ALTER TABLE conversations ADD COLUMN kind TEXT NOT NULL DEFAULT 'channel';

ALTER TABLE turns ADD COLUMN source_message_id TEXT;

ALTER TABLE turns ADD COLUMN reply_message_ids TEXT NOT NULL DEFAULT '[]';

CREATE INDEX turns_by_source_message ON turns (source_message_id);
