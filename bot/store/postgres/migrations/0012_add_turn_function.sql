-- A turn's write in one round trip: the shared erasure locks, then the insert that checks the
-- tombstones. They cannot share one statement (a statement's snapshot is taken before its
-- locks are, so an erasure committed in between would go unseen); in a VOLATILE PL/pgSQL
-- function each statement takes a fresh snapshot, so the insert sees every erasure that
-- committed before its locks were granted. Before, the same took four round trips (BEGIN,
-- locks, insert, COMMIT). Returns the kind of the tombstone that kept the turn out, or NULL.
CREATE OR REPLACE FUNCTION omnicord_add_turn(
    keys text[], members text[], came_in text, source text, p_scope text,
    p_speaker_id text, p_speaker_name text, p_text text, p_media_json text, p_reply_text text,
    p_model text, p_usage_json text, p_created_at text, p_replied_at text,
    p_source_message_id text, p_reply_message_ids text, u_day text, u_guild_id text,
    u_channel_id text, u_user_id text, u_model text, u_prompt_tokens bigint,
    u_completion_tokens bigint, p_write_key text
) RETURNS text LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    verdict text;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(key) FROM (
        SELECT DISTINCT hashtextextended('omnicord-erasure:' || k, 0) AS key
        FROM unnest(keys) k ORDER BY 1) ordered_keys;
    WITH blocked AS (
        SELECT e.kind FROM erasures e
        WHERE (e.kind = 'member' AND e.subject = ANY(members) AND e.erased_at >= came_in)
           OR (e.kind IN ('deleted', 'edited') AND e.subject = source)
        ORDER BY CASE e.kind WHEN 'deleted' THEN 0 WHEN 'edited' THEN 1 ELSE 2 END LIMIT 1),
    conversation AS (
        INSERT INTO conversations (scope, updated_at)
        SELECT p_scope, p_replied_at WHERE NOT EXISTS (SELECT 1 FROM blocked)
        ON CONFLICT (scope) DO UPDATE SET updated_at = excluded.updated_at
        RETURNING id),
    turn AS (
        INSERT INTO turns (conversation_id, speaker_id, speaker_name, text, media_json,
                           reply_text, model, usage_json, created_at, replied_at,
                           source_message_id, reply_message_ids, write_key)
        SELECT id, p_speaker_id, p_speaker_name, p_text, p_media_json, p_reply_text, p_model,
               p_usage_json, p_created_at, p_replied_at, p_source_message_id,
               p_reply_message_ids, p_write_key
        FROM conversation
        ON CONFLICT (write_key) DO NOTHING
        RETURNING id),
    used AS (
        INSERT INTO usage (day, guild_id, channel_id, user_id, model, prompt_tokens,
                           completion_tokens, created_at, write_key)
        SELECT u_day, u_guild_id, u_channel_id, u_user_id, u_model, u_prompt_tokens,
               u_completion_tokens, p_replied_at, p_write_key
        WHERE u_user_id IS NOT NULL AND EXISTS (SELECT 1 FROM turn))
    SELECT (SELECT kind FROM blocked) INTO verdict;
    RETURN verdict;
END
$fn$;
