"""The migrations, checked on both databases in a database of their own: one head, every step
reversible, nothing left after `downgrade base`, and no drift from the models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from service import migrate
from service.models import Base

REVISIONS = [
    script.revision for script in reversed(list(ScriptDirectory.from_config(migrate.alembic_config()).walk_revisions()))
]


@pytest.fixture(scope="session")
async def migration_engine(
    empty_database_url: str, engine_factory: Callable[[str], AsyncEngine], anyio_session_runner: object
) -> AsyncIterator[AsyncEngine]:
    engine = engine_factory(empty_database_url)
    yield engine
    await engine.dispose()


async def alembic(engine: AsyncEngine, action: Callable[..., None], revision: str) -> None:
    """Run an Alembic command on the engine's connection, in this loop, in one transaction."""

    def run(connection: Connection) -> None:
        action(migrate.alembic_config(connection=connection), revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def state(engine: AsyncEngine) -> tuple[str | None, set[str]]:
    def read(connection: Connection) -> tuple[str | None, set[str]]:
        tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
        return MigrationContext.configure(connection).get_current_revision(), tables

    async with engine.connect() as connection:
        return await connection.run_sync(read)


def test_migrations_have_exactly_one_head() -> None:
    heads = ScriptDirectory.from_config(migrate.alembic_config()).get_heads()
    assert len(heads) == 1, f"several heads {heads}: merge them (alembic merge heads)"


async def test_migration_stairway(migration_engine: AsyncEngine) -> None:
    await alembic(migration_engine, command.downgrade, "base")
    previous = None
    for revision in REVISIONS:
        await alembic(migration_engine, command.upgrade, revision)
        assert (await state(migration_engine))[0] == revision
        await alembic(migration_engine, command.downgrade, "-1")
        assert (await state(migration_engine))[0] == previous
        await alembic(migration_engine, command.upgrade, revision)
        previous = revision
    assert (await state(migration_engine))[0] == REVISIONS[-1]


async def test_migration_downgrade_base_leaves_no_table(migration_engine: AsyncEngine) -> None:
    await alembic(migration_engine, command.upgrade, "head")
    assert (await state(migration_engine))[1] == set(Base.metadata.tables)
    await alembic(migration_engine, command.downgrade, "base")
    assert await state(migration_engine) == (None, set())
    await alembic(migration_engine, command.upgrade, "head")
    assert (await state(migration_engine))[1] == set(Base.metadata.tables)


async def test_migrations_match_the_models(migration_engine: AsyncEngine) -> None:
    await alembic(migration_engine, command.upgrade, "head")

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": migrate.compare_server_default}
        )
        differences: list[Any] = compare_metadata(context, Base.metadata)
        return differences

    async with migration_engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == [], "the models differ from the migrations: alembic revision --autogenerate"


async def test_migration_runner_works_from_any_loop(tmp_path: Path, anyio_backend: str) -> None:
    # env.py calls asyncio.run() when it has no shared connection: in a worker thread that is
    # allowed on asyncio and on trio alike (asyncio.to_thread would tie this to asyncio).
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    await anyio.to_thread.run_sync(lambda: migrate.upgrade("head", url=url))
    await anyio.to_thread.run_sync(lambda: migrate.downgrade("base", url=url))
    await anyio.to_thread.run_sync(lambda: migrate.upgrade("head", url=url))
