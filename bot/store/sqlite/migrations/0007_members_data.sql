-- Members' data under members' control: what finds a turn from a Discord message, a cached
-- file or a member; servers' allow lists; and an index for the retention setting.

-- Every message id (the member's message, the bot's reply messages) and cached-media hash a
-- turn refers to, kept by the trigger below for every way a turn is inserted (the turn_writes
-- view, `omnicord db copy`), and removed with its turn.
CREATE TABLE turn_refs (
    turn_id INTEGER NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
    kind    TEXT    NOT NULL,  -- 'message' (a Discord message id) or 'media' (a content hash)
    ref     TEXT    NOT NULL
);

CREATE INDEX turn_refs_by_ref ON turn_refs (kind, ref);

CREATE INDEX turn_refs_by_turn ON turn_refs (turn_id);

CREATE TRIGGER turns_refs AFTER INSERT ON turns
BEGIN
    INSERT INTO turn_refs (turn_id, kind, ref)
        SELECT NEW.id, 'message', NEW.source_message_id WHERE NEW.source_message_id IS NOT NULL
        UNION ALL
        SELECT NEW.id, 'message', value FROM json_each(NEW.reply_message_ids)
        UNION ALL
        SELECT NEW.id, 'media', json_extract(value, '$.content_hash')
        FROM json_each(NEW.media_json)
        WHERE COALESCE(json_extract(value, '$.content_hash'), '') <> '';
END;

INSERT INTO turn_refs (turn_id, kind, ref)
    SELECT id, 'message', source_message_id FROM turns WHERE source_message_id IS NOT NULL
    UNION ALL
    SELECT t.id, 'message', m.value FROM turns t, json_each(t.reply_message_ids) m
    UNION ALL
    SELECT t.id, 'media', json_extract(m.value, '$.content_hash')
    FROM turns t, json_each(t.media_json) m
    WHERE COALESCE(json_extract(m.value, '$.content_hash'), '') <> '';

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
