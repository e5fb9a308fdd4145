"""What a request may reach, and where it happens: the access check, attachments fetched from
Discord's CDN only, conversation scopes and server keys, and messages deleted while the bot
was away."""
