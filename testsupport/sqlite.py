"""SQLite settings for an engine: the savepoint fix every project needs, and the throwaway-file
pragmas only a test database wants."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry


def sqlite_savepoints(engine: AsyncEngine) -> AsyncEngine:
    """Make SAVEPOINT and RELEASE work on a SQLite engine, and turn foreign keys on.

    The sqlite3 module emits no BEGIN of its own, so a RELEASE SAVEPOINT commits for real and a
    test's "rolled back" rows survive into the next test (on SQLite only, with no warning). This
    takes over transaction control, as SQLAlchemy's SQLite dialect docs prescribe ("Serializable
    isolation / Savepoints / Transactional DDL"). Apply it in your own engine factory too, so the
    app runs SQLite the same way in production. Returns the engine.
    https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl-asyncio-version
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")  # off by default in SQLite, per connection
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def throwaway_sqlite(engine: AsyncEngine) -> AsyncEngine:
    """No durability for a test database: the rollback journal in memory, no syncs. Transactions
    and savepoints behave exactly the same; only a crash could lose data, and it is thrown away.
    https://www.sqlite.org/pragma.html#pragma_journal_mode"""

    @event.listens_for(engine.sync_engine, "connect")
    def _settings(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=MEMORY")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()

    return engine
