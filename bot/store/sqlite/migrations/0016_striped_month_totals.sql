-- Monthly totals in stripes (PostgreSQL's 0016 is the same schema, and says why: there, every
-- usage row's commit waited for the one 'bot' row). SQLite has one writer at a time, but the
-- schema and the stripes are the same, so `db copy` moves totals between the two unchanged.
-- Each total is spread over stripes named by the last two characters of the usage row's
-- channel id; a total is the sum of its stripes.
CREATE TABLE usage_months_striped (
    key               TEXT    NOT NULL,
    month             TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    stripe            TEXT    NOT NULL DEFAULT '',
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    PRIMARY KEY (key, month, model, stripe)
);

INSERT INTO usage_months_striped (key, month, model, stripe, prompt_tokens, completion_tokens)
    SELECT key, month, model, '', prompt_tokens, completion_tokens FROM usage_months;

DROP TRIGGER usage_months_count;

DROP TABLE usage_months;

ALTER TABLE usage_months_striped RENAME TO usage_months;

CREATE TRIGGER usage_months_count AFTER INSERT ON usage
BEGIN
    INSERT INTO usage_months (key, month, model, stripe, prompt_tokens, completion_tokens)
        VALUES ('bot', substr(NEW.day, 1, 7), NEW.model, substr(NEW.channel_id, -2),
                NEW.prompt_tokens, NEW.completion_tokens)
        ON CONFLICT (key, month, model, stripe) DO UPDATE SET
            prompt_tokens = prompt_tokens + excluded.prompt_tokens,
            completion_tokens = completion_tokens + excluded.completion_tokens;
    INSERT INTO usage_months (key, month, model, stripe, prompt_tokens, completion_tokens)
        SELECT 'guild:' || NEW.guild_id, substr(NEW.day, 1, 7), NEW.model,
               substr(NEW.channel_id, -2), NEW.prompt_tokens, NEW.completion_tokens
        WHERE NEW.guild_id <> ''
        ON CONFLICT (key, month, model, stripe) DO UPDATE SET
            prompt_tokens = prompt_tokens + excluded.prompt_tokens,
            completion_tokens = completion_tokens + excluded.completion_tokens;
END;

-- The usage rows still stored move to their stripes; what erased members and pruned days
-- spent stays in stripe ''.
INSERT INTO usage_months (key, month, model, stripe, prompt_tokens, completion_tokens)
    SELECT 'bot', substr(day, 1, 7), model, substr(channel_id, -2), SUM(prompt_tokens),
           SUM(completion_tokens)
    FROM usage WHERE substr(channel_id, -2) <> ''
    GROUP BY substr(day, 1, 7), model, substr(channel_id, -2);

INSERT INTO usage_months (key, month, model, stripe, prompt_tokens, completion_tokens)
    SELECT 'guild:' || guild_id, substr(day, 1, 7), model, substr(channel_id, -2),
           SUM(prompt_tokens), SUM(completion_tokens)
    FROM usage WHERE guild_id <> '' AND substr(channel_id, -2) <> ''
    GROUP BY guild_id, substr(day, 1, 7), model, substr(channel_id, -2);

UPDATE usage_months SET
    prompt_tokens = prompt_tokens - (
        SELECT SUM(moved.prompt_tokens) FROM usage_months moved
        WHERE moved.key = usage_months.key AND moved.month = usage_months.month
          AND moved.model = usage_months.model AND moved.stripe <> ''),
    completion_tokens = completion_tokens - (
        SELECT SUM(moved.completion_tokens) FROM usage_months moved
        WHERE moved.key = usage_months.key AND moved.month = usage_months.month
          AND moved.model = usage_months.model AND moved.stripe <> '')
WHERE stripe = '' AND EXISTS (
    SELECT 1 FROM usage_months moved
    WHERE moved.key = usage_months.key AND moved.month = usage_months.month
      AND moved.model = usage_months.model AND moved.stripe <> '');
