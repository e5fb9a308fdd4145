"""The PostgreSQL store: a pool, leases and shared limits for several bot processes.

Import ``omnicord.store.postgres.store`` for ``PostgresStore`` (it needs asyncpg; this
package imports nothing).
"""
