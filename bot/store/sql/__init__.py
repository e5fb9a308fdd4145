"""SQL written once for both backends, run through a backend's ``Executor``.

Queries are spelled with PostgreSQL's ``$n`` placeholders; the SQLite executor rewrites them
to SQLite's ``?n`` (see ``dialect``). What the two dialects cannot share stays in the
backend's own package.
"""
