"""Policy: effective preferences, admission (cooldowns, concurrency, daily caps) and usage
rules. Pure decisions over the store's interface: no SQL here."""
