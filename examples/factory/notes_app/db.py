import os
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def make_engine() -> AsyncEngine:
    """The production engine, from the environment. The tests never call this: testsupport hands
    create_app its own sessionmaker (testsupport_sessionmaker names make_sessionmaker below)."""
    engine = create_async_engine(os.environ.get("NOTES_DATABASE_URL", "sqlite+aiosqlite:///production.db"))
    if engine.dialect.name == "sqlite":
        sqlite_savepoints(engine)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: a handler reads the object it just committed without a lazy load
    # (MissingGreenlet in async code). testsupport makes the tests' sessions from this function too.
    return async_sessionmaker(engine, expire_on_commit=False)


def sqlite_savepoints(engine: AsyncEngine) -> None:
    """SQLite's savepoint fix (testsupport.sqlite_savepoints, copied: production code does not
    import test support). Without it the sqlite3 module emits no BEGIN and a rollback misbehaves."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")
