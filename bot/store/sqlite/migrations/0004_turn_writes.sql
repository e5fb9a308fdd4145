-- A turn, its conversation and its usage written by one INSERT into this view: one statement
-- is atomic on its own, so a turn and its usage are stored together or not at all, and a busy
-- bot pays for one statement per turn instead of a transaction of several.
CREATE VIEW turn_writes AS SELECT
    NULL AS scope, NULL AS speaker_id, NULL AS speaker_name, NULL AS text, NULL AS media_json,
    NULL AS reply_text, NULL AS model, NULL AS usage_json, NULL AS created_at,
    NULL AS replied_at, NULL AS source_message_id, NULL AS reply_message_ids,
    NULL AS usage_day, NULL AS usage_guild_id, NULL AS usage_channel_id, NULL AS usage_user_id,
    NULL AS usage_model, NULL AS usage_prompt_tokens, NULL AS usage_completion_tokens
WHERE 0;

CREATE TRIGGER turn_writes_insert INSTEAD OF INSERT ON turn_writes
BEGIN
    INSERT INTO conversations (scope, updated_at) VALUES (NEW.scope, NEW.replied_at)
        ON CONFLICT (scope) DO UPDATE SET updated_at = excluded.updated_at;
    INSERT INTO turns (conversation_id, speaker_id, speaker_name, text, media_json, reply_text,
                       model, usage_json, created_at, replied_at, source_message_id,
                       reply_message_ids)
        SELECT id, NEW.speaker_id, NEW.speaker_name, NEW.text, NEW.media_json, NEW.reply_text,
               NEW.model, NEW.usage_json, NEW.created_at, NEW.replied_at,
               NEW.source_message_id, NEW.reply_message_ids
        FROM conversations WHERE scope = NEW.scope;
    INSERT INTO usage (day, guild_id, channel_id, user_id, model, prompt_tokens,
                       completion_tokens, created_at)
        SELECT NEW.usage_day, NEW.usage_guild_id, NEW.usage_channel_id, NEW.usage_user_id,
               NEW.usage_model, NEW.usage_prompt_tokens, NEW.usage_completion_tokens,
               NEW.replied_at
        WHERE NEW.usage_user_id IS NOT NULL;
END;
