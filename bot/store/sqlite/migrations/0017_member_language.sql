-- The language of a member's Discord app, as their latest Omnicord command gave it (a catalogue
-- code: 'ja', 'zh-CN', ...), kept on their direct-message row (guild_id ''): Discord gives a
-- direct message no language, so Omnicord's own words there (refusals, notices) use it.
-- Erased with the member's other preferences.
ALTER TABLE member_settings ADD COLUMN language TEXT;
