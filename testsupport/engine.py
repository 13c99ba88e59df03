"""The engine and the schema: one pool per database per session, on the session's loop."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from service import migrate
from service.db import make_engine
from testsupport.guard import install_loop_guard


@pytest.fixture(scope="session")
def engine_factory() -> Callable[[str], AsyncEngine]:
    """How to build an engine from a URL. The app's own factory, so SQLite gets the same BEGIN
    fix in the tests as in production. Override to adopt testsupport in another project."""
    return make_engine


@pytest.fixture(scope="session")
def run_migrations() -> Callable[[Connection], None]:
    """Bring the database on this (sync) connection to head. Override for another project."""

    def upgrade_head(connection: Connection) -> None:
        migrate.upgrade("head", connection=connection)

    return upgrade_head


def throwaway_sqlite(engine: AsyncEngine) -> None:
    """No durability for a test database: the rollback journal in memory, no syncs. Transactions
    and savepoints behave exactly the same; only a crash could lose data, and it is thrown away.
    https://www.sqlite.org/pragma.html#pragma_journal_mode"""

    @event.listens_for(engine.sync_engine, "connect")
    def _settings(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=MEMORY")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()


@pytest.fixture(scope="session")
def migrations_fingerprint() -> str:
    """A hash of the migration files: --reuse-db keeps a template per fingerprint, so changed
    migrations always get a freshly migrated template. Override with run_migrations."""
    digest = hashlib.sha256()
    for path in sorted(migrate.MIGRATIONS_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(migrate.MIGRATIONS_DIR).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
async def engine(
    database_url: str, engine_factory: Callable[[str], AsyncEngine], anyio_session_runner: object
) -> AsyncIterator[AsyncEngine]:
    """The session's engine for the current database, disposed on the loop that opened it."""
    engine = engine_factory(database_url)
    install_loop_guard(engine)
    if engine.dialect.name == "sqlite":
        throwaway_sqlite(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def schema(engine: AsyncEngine, run_migrations: Callable[[Connection], None]) -> AsyncEngine:
    """The migrated schema: Alembic runs on the engine's own connection, inside this loop.
    (The async env.py template's asyncio.run() would fail here; env.py uses the shared connection.)
    https://alembic.sqlalchemy.org/en/latest/cookbook.html#sharing-a-connection-across-one-or-more-programmatic-migration-commands
    """
    async with engine.begin() as connection:
        await connection.run_sync(run_migrations)
    return engine
