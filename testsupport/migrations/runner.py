"""``migration_runner``: Alembic on a fresh, empty database of the current target, driven from an
async test on the session's loop. The migration checks use it, and so can a project's tests of its
data migrations: upgrade to a revision, insert rows through the tables as they are there, upgrade
further, read what the migration made of them."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from testsupport.config import Settings
from testsupport.mariadb import mariadb_database
from testsupport.migrations.schema import snapshot
from testsupport.migrations.source import AlembicSource, wrong_env_py_stops_the_run
from testsupport.postgres import postgres_database

_serial = itertools.count()


class MigrationRunner:
    """Alembic commands through the project's env.py, each on a connection of ``engine`` in a
    transaction of its own, committed; the database starts empty (no revision)."""

    def __init__(
        self, engine: AsyncEngine, source: AlembicSource, metadata: MetaData | None, session: pytest.Session
    ) -> None:
        self.engine = engine
        self.source = source
        self.metadata = metadata
        self.session = session  # a wrong env.py stops it
        from alembic.script import ScriptDirectory

        self.script = ScriptDirectory.from_config(source.config())

    @property
    def revisions(self) -> list[str]:
        """Every revision, from the first to the head(s): each after the ones it revises."""
        return [script.revision for script in reversed(list(self.script.walk_revisions()))]

    async def _command(self, name: str, *args: str) -> None:
        async with self.engine.begin() as connection:
            with wrong_env_py_stops_the_run(self.session):
                await connection.run_sync(self.source.run, name, *args)

    async def upgrade(self, revision: str = "heads") -> None:
        """``alembic upgrade <revision>`` (``"heads"``: every head)."""
        await self._command("upgrade", revision)

    async def downgrade(self, revision: str) -> None:
        """``alembic downgrade <revision>`` (``"base"``, ``"-1"``, a revision id)."""
        await self._command("downgrade", revision)

    async def ensure_version_table(self) -> None:
        """The version table env.py configures, created if missing (``alembic ensure_version``)."""
        await self._command("ensure_version")

    async def current(self) -> tuple[str, ...]:
        """The revisions the database is at (empty: base)."""
        from alembic.runtime.migration import MigrationContext

        def read(connection: Connection) -> tuple[str, ...]:
            return tuple(MigrationContext.configure(connection).get_current_heads())

        async with self.engine.connect() as connection:
            return await connection.run_sync(read)

    async def insert(self, table: str, *rows: Mapping[str, Any]) -> None:
        """Insert rows into ``table`` as it is at the current revision (reflected, not the models)."""
        async with self.engine.begin() as connection:
            reflected = await connection.run_sync(_reflect, table)
            await connection.execute(reflected.insert(), [dict(row) for row in rows])

    async def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of ``table`` as it is at the current revision, in primary key order."""
        async with self.engine.connect() as connection:
            reflected = await connection.run_sync(_reflect, table)
            result = await connection.execute(select(reflected).order_by(*reflected.primary_key.columns))
            return [dict(row) for row in result.mappings()]

    async def snapshot(self) -> frozenset[str]:
        """The schema's objects (tables, columns, indexes, constraints, views, sequences, enums)."""
        async with self.engine.connect() as connection:
            return await connection.run_sync(snapshot)

    async def differences(self) -> list[Any]:
        """Autogenerate's comparison of the database with testsupport_metadata, through env.py."""
        async with self.engine.connect() as connection:
            with wrong_env_py_stops_the_run(self.session):
                return await connection.run_sync(self.source.differences, self.metadata)


def _reflect(connection: Connection, table: str) -> Table:
    return Table(table, MetaData(), autoload_with=connection)


@pytest.fixture
def migration_database_url(
    database: str, sqlite_folder: Path, sqlite_driver: str, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A new, empty database of the current target for one test (the run's server; never the
    template the other tests clone), dropped after it."""
    serial = next(_serial)
    if database == "sqlite":
        path = sqlite_folder / f"migrations-{serial}.db"
        yield f"sqlite+{sqlite_driver}:///{path}"
        path.unlink(missing_ok=True)
    elif database == "postgres":
        # session=: a bad TEST_POSTGRES_URL met here stops the run (under xdist too), not each test.
        with postgres_database(None, suffix=f"_migrations{serial}", session=request.session) as url:
            yield url
    elif database == "mariadb":
        with mariadb_database(f"_migrations{serial}", session=request.session) as url:
            yield url
    else:  # a target added to testsupport.databases.DATABASES needs its empty database here too
        pytest.fail(f"migration_database_url has no empty database for the {database!r} target", pytrace=False)


@pytest.fixture
async def migration_runner(
    migration_database_url: str,
    engine_factory: Callable[[str], AsyncEngine],
    testsupport_settings: Settings,
    anyio_session_runner: object,
    request: pytest.FixtureRequest,
) -> AsyncIterator[MigrationRunner]:
    """Alembic on an empty database of its own, on each database target: ``await
    runner.upgrade("0002")``, ``await runner.insert("users", {...})``, ``await runner.upgrade()``,
    ``await runner.rows("users")``. Needs testsupport_alembic_config."""
    source = testsupport_settings.alembic
    if source is None:
        pytest.fail(
            "migration_runner runs the project's Alembic migrations, and none are configured"
            + (" (--no-migrations)" if testsupport_settings.metadata is not None else "")
            + ". Fix: set testsupport_alembic_config = 'alembic.ini' in [tool.pytest.ini_options]",
            pytrace=False,
        )
    engine = engine_factory(migration_database_url)
    try:
        yield MigrationRunner(engine, source, testsupport_settings.metadata, request.session)
    finally:
        await engine.dispose()
