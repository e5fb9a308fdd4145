-- Monthly budgets (SQLite's 0013 is the same schema).

-- A server's monthly budgets: tokens, and US dollars where prices are known. Dollars are a
-- double: a threshold an admin chose, compared with a cost computed in floating point from
-- prices in floating point, never summed here, so whole cents are kept exactly enough.
ALTER TABLE guild_settings ADD COLUMN monthly_token_budget BIGINT;

ALTER TABLE guild_settings ADD COLUMN monthly_money_budget DOUBLE PRECISION;

-- Tokens used per month and model, for the whole bot ('bot') and per server ('guild:<id>'),
-- without member ids: a member's erasure, or retention pruning, deletes their usage rows but
-- never lowers what a server or the bot spent (or a member could reset a budget). Counted by
-- the database on every usage row inserted, in the same transaction, by any writer.
CREATE TABLE usage_months (
    key               TEXT   NOT NULL,
    month             TEXT   NOT NULL,
    model             TEXT   NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    PRIMARY KEY (key, month, model)
);

-- Keys in one order ('bot' first), so writers lock the rows alike and never deadlock; an
-- upsert waits for a concurrent writer's row and adds to what it committed.
CREATE FUNCTION omnicord_count_usage() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO usage_months AS counted (key, month, model, prompt_tokens, completion_tokens)
    SELECT k, left(NEW.day, 7), NEW.model, NEW.prompt_tokens, NEW.completion_tokens
    FROM unnest(CASE WHEN NEW.guild_id = '' THEN ARRAY['bot']
                     ELSE ARRAY['bot', 'guild:' || NEW.guild_id] END) k
    ORDER BY k COLLATE "C"
    ON CONFLICT (key, month, model) DO UPDATE SET
        prompt_tokens = counted.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = counted.completion_tokens + excluded.completion_tokens;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER usage_months_count AFTER INSERT ON usage
    FOR EACH ROW EXECUTE FUNCTION omnicord_count_usage();

-- What was used before this version.
INSERT INTO usage_months (key, month, model, prompt_tokens, completion_tokens)
    SELECT 'bot', left(day, 7), model, SUM(prompt_tokens), SUM(completion_tokens)
    FROM usage GROUP BY left(day, 7), model;

INSERT INTO usage_months (key, month, model, prompt_tokens, completion_tokens)
    SELECT 'guild:' || guild_id, left(day, 7), model, SUM(prompt_tokens), SUM(completion_tokens)
    FROM usage WHERE guild_id <> '' GROUP BY guild_id, left(day, 7), model;
