-- Members' data under members' control (as SQLite's 0007): what finds a turn from a Discord
-- message, a cached file or a member; servers' allow lists; an index for retention.

-- Every message id (the member's message, the bot's reply messages) and cached-media hash a
-- turn refers to, kept by the trigger below for every way a turn is inserted (INSERT, COPY),
-- and removed with its turn.
CREATE TABLE turn_refs (
    turn_id BIGINT NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
    kind    TEXT   NOT NULL,  -- 'message' (a Discord message id) or 'media' (a content hash)
    ref     TEXT   NOT NULL
);

CREATE INDEX turn_refs_by_ref ON turn_refs (kind, ref);

CREATE INDEX turn_refs_by_turn ON turn_refs (turn_id);

CREATE FUNCTION omnicord_turn_refs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO turn_refs (turn_id, kind, ref)
        SELECT NEW.id, 'message', NEW.source_message_id WHERE NEW.source_message_id IS NOT NULL
        UNION ALL
        SELECT NEW.id, 'message', m FROM jsonb_array_elements_text(NEW.reply_message_ids::jsonb) m
        UNION ALL
        SELECT NEW.id, 'media', e ->> 'content_hash'
        FROM jsonb_array_elements(NEW.media_json::jsonb) e
        WHERE COALESCE(e ->> 'content_hash', '') <> '';
    RETURN NULL;
END
$$;

CREATE TRIGGER turns_refs AFTER INSERT ON turns
    FOR EACH ROW EXECUTE FUNCTION omnicord_turn_refs();

INSERT INTO turn_refs (turn_id, kind, ref)
    SELECT id, 'message', source_message_id FROM turns WHERE source_message_id IS NOT NULL
    UNION ALL
    SELECT t.id, 'message', m FROM turns t, jsonb_array_elements_text(t.reply_message_ids::jsonb) m
    UNION ALL
    SELECT t.id, 'media', e ->> 'content_hash'
    FROM turns t, jsonb_array_elements(t.media_json::jsonb) e
    WHERE COALESCE(e ->> 'content_hash', '') <> '';

CREATE INDEX turns_by_speaker ON turns (speaker_id);

CREATE INDEX turns_by_created ON turns (created_at);

-- Who may use Omnicord in a server: 'role:<id>' and 'channel:<id>' entries. A server with no
-- role entries lets every role in; with no channel entries, every channel.
CREATE TABLE guild_access (
    guild_id   TEXT NOT NULL,
    target     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (guild_id, target)
);
