-- Monthly budgets (PostgreSQL's 0013 is the same schema).

-- A server's monthly budgets: tokens, and US dollars where prices are known. Dollars are a
-- REAL: a threshold an admin chose, compared with a cost computed in floating point from
-- prices in floating point, never summed here, so whole cents are kept exactly enough.
ALTER TABLE guild_settings ADD COLUMN monthly_token_budget INTEGER;

ALTER TABLE guild_settings ADD COLUMN monthly_money_budget REAL;

-- Tokens used per month and model, for the whole bot ('bot') and per server ('guild:<id>'),
-- without member ids: a member's erasure, or retention pruning, deletes their usage rows but
-- never lowers what a server or the bot spent (or a member could reset a budget). Counted by
-- the database on every usage row inserted, in the same transaction, by any writer.
CREATE TABLE usage_months (
    key               TEXT    NOT NULL,
    month             TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    PRIMARY KEY (key, month, model)
);

CREATE TRIGGER usage_months_count AFTER INSERT ON usage
BEGIN
    INSERT INTO usage_months (key, month, model, prompt_tokens, completion_tokens)
        VALUES ('bot', substr(NEW.day, 1, 7), NEW.model, NEW.prompt_tokens,
                NEW.completion_tokens)
        ON CONFLICT (key, month, model) DO UPDATE SET
            prompt_tokens = prompt_tokens + excluded.prompt_tokens,
            completion_tokens = completion_tokens + excluded.completion_tokens;
    INSERT INTO usage_months (key, month, model, prompt_tokens, completion_tokens)
        SELECT 'guild:' || NEW.guild_id, substr(NEW.day, 1, 7), NEW.model, NEW.prompt_tokens,
               NEW.completion_tokens
        WHERE NEW.guild_id <> ''
        ON CONFLICT (key, month, model) DO UPDATE SET
            prompt_tokens = prompt_tokens + excluded.prompt_tokens,
            completion_tokens = completion_tokens + excluded.completion_tokens;
END;

-- What was used before this version.
INSERT INTO usage_months (key, month, model, prompt_tokens, completion_tokens)
    SELECT 'bot', substr(day, 1, 7), model, SUM(prompt_tokens), SUM(completion_tokens)
    FROM usage GROUP BY substr(day, 1, 7), model;

INSERT INTO usage_months (key, month, model, prompt_tokens, completion_tokens)
    SELECT 'guild:' || guild_id, substr(day, 1, 7), model, SUM(prompt_tokens),
           SUM(completion_tokens)
    FROM usage WHERE guild_id <> '' GROUP BY guild_id, substr(day, 1, 7), model;
