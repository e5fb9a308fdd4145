-- Conversations and their turns. One row per member message and the reply to it.
CREATE TABLE conversations (
    id            INTEGER PRIMARY KEY,
    scope         TEXT    NOT NULL UNIQUE,
    system_prompt TEXT,
    created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE turns (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    speaker_id      TEXT    NOT NULL,
    speaker_name    TEXT    NOT NULL,
    text            TEXT    NOT NULL DEFAULT '',
    media_json      TEXT    NOT NULL DEFAULT '[]',
    reply_text      TEXT    NOT NULL,
    model           TEXT    NOT NULL,
    usage_json      TEXT,
    created_at      TEXT    NOT NULL,
    replied_at      TEXT    NOT NULL
);

CREATE INDEX turns_by_conversation ON turns (conversation_id, id);
