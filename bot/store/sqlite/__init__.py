"""The SQLite store: one file, one writer thread, scope locks on a file beside it.

Import ``omnicord.store.sqlite.store`` for ``SqliteStore`` (this package imports nothing, so
naming it costs no start-up time).
"""
