-- PostgreSQL writes a turn through a function from this version on (one round trip for its
-- erasure locks and its insert); SQLite's writer already takes both in one transaction of its
-- own thread. Nothing changes here: the number keeps both schemas' versions alike.
SELECT 1;
