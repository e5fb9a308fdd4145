-- Erasures as facts every process consults (PostgreSQL's 0006 is the same schema).

-- A tombstone per erased member ('member': a user id) and per deleted or edited message
-- ('deleted', 'edited': a message id), with when it happened. A turn or usage row written
-- later for content created before its member's erasure, or from a deleted or edited
-- message, is never kept. Tombstones go after a day: no reply takes that long.
CREATE TABLE erasures (
    kind      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    erased_at TEXT NOT NULL,
    PRIMARY KEY (kind, subject)
);

CREATE INDEX erasures_by_time ON erasures (erased_at);

-- A key per write, so a write retried after a lost connection is stored once.
ALTER TABLE turns ADD COLUMN write_key TEXT;

CREATE UNIQUE INDEX turns_by_write_key ON turns (write_key);

ALTER TABLE usage ADD COLUMN write_key TEXT;

CREATE UNIQUE INDEX usage_by_write_key ON usage (write_key);

-- The view every turn is written through takes the key too.
DROP TRIGGER turn_writes_insert;

DROP VIEW turn_writes;

CREATE VIEW turn_writes AS SELECT
    NULL AS scope, NULL AS speaker_id, NULL AS speaker_name, NULL AS text, NULL AS media_json,
    NULL AS reply_text, NULL AS model, NULL AS usage_json, NULL AS created_at,
    NULL AS replied_at, NULL AS source_message_id, NULL AS reply_message_ids,
    NULL AS usage_day, NULL AS usage_guild_id, NULL AS usage_channel_id, NULL AS usage_user_id,
    NULL AS usage_model, NULL AS usage_prompt_tokens, NULL AS usage_completion_tokens,
    NULL AS write_key
WHERE 0;

CREATE TRIGGER turn_writes_insert INSTEAD OF INSERT ON turn_writes
BEGIN
    INSERT INTO conversations (scope, updated_at) VALUES (NEW.scope, NEW.replied_at)
        ON CONFLICT (scope) DO UPDATE SET updated_at = excluded.updated_at;
    INSERT INTO turns (conversation_id, speaker_id, speaker_name, text, media_json, reply_text,
                       model, usage_json, created_at, replied_at, source_message_id,
                       reply_message_ids, write_key)
        SELECT id, NEW.speaker_id, NEW.speaker_name, NEW.text, NEW.media_json, NEW.reply_text,
               NEW.model, NEW.usage_json, NEW.created_at, NEW.replied_at,
               NEW.source_message_id, NEW.reply_message_ids, NEW.write_key
        FROM conversations WHERE scope = NEW.scope;
    INSERT INTO usage (day, guild_id, channel_id, user_id, model, prompt_tokens,
                       completion_tokens, created_at, write_key)
        SELECT NEW.usage_day, NEW.usage_guild_id, NEW.usage_channel_id, NEW.usage_user_id,
               NEW.usage_model, NEW.usage_prompt_tokens, NEW.usage_completion_tokens,
               NEW.replied_at, NEW.write_key
        WHERE NEW.usage_user_id IS NOT NULL;
END;
