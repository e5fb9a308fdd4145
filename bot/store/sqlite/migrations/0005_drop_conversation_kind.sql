-- conversations.kind was never written or read: a scope's prefix already says what it is.
ALTER TABLE conversations DROP COLUMN kind;
