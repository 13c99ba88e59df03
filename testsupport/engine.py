"""The engine and the schema: one pool per database per session, on the session's loop."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy.dialects import registry
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.sql.expression import ReleaseSavepointClause, RollbackToSavepointClause, SavepointClause

from testsupport.config import Settings
from testsupport.databases import MIGRATED_BY_SCHEMA
from testsupport.guard import install_loop_guard
from testsupport.maria.ddl import refuse_implicit_commits, require_transactional_tables
from testsupport.migrations.source import wrong_env_py_stops_the_run
from testsupport.net import migrating
from testsupport.pg.template import Migrate
from testsupport.sqlite import sqlite_savepoints, throwaway_sqlite

registry.register("sqlite.syncsqlite", "testsupport.sqlite_dialect", "SQLiteDialect_syncsqlite")


def make_test_engine(url: str) -> AsyncEngine:
    """An engine for a test database: SQLite gets the savepoint fix, foreign keys and the
    throwaway pragmas; MariaDB refuses DDL in savepoint mode (it would commit the test's
    transaction); every engine gets the loop guard."""
    engine = create_async_engine(url)
    if engine.dialect.name == "sqlite":
        throwaway_sqlite(sqlite_savepoints(engine))
    elif engine.dialect.name in ("mysql", "mariadb"):
        refuse_implicit_commits(engine)
    install_loop_guard(engine)
    return precompiled_savepoints(engine)


def precompiled_savepoints(engine: AsyncEngine) -> AsyncEngine:
    """Send SAVEPOINT, RELEASE and ROLLBACK TO as the SQL the dialect compiles for them, compiled
    once per name instead of once per statement.

    In the tests every handler commit is a savepoint, and SQLAlchemy never caches these three
    clauses (``inherit_cache = False`` in sqlalchemy/sql/elements.py): the default
    ``Dialect.do_savepoint`` & co. compile a new clause on every call, ~50 us each, four per POST +
    GET test. The text sent is identical and cursor events see it as before; only this engine's
    dialect instance is changed."""
    dialect = engine.sync_engine.dialect

    @functools.cache
    def sql(clause: type[SavepointClause | ReleaseSavepointClause | RollbackToSavepointClause], name: str) -> str:
        return str(clause(name).compile(dialect=dialect))

    def run(clause: Any) -> Callable[[Connection, str], None]:
        def execute(connection: Connection, name: str) -> None:
            connection.exec_driver_sql(sql(clause, name))

        return execute

    vars(dialect).update(
        do_savepoint=run(SavepointClause),
        do_release_savepoint=run(ReleaseSavepointClause),
        do_rollback_to_savepoint=run(RollbackToSavepointClause),
    )
    return engine


@pytest.fixture(scope="session")
def testsupport_settings(request: pytest.FixtureRequest) -> Settings:
    """The project's testsupport configuration, read from the ini keys at start-up."""
    from testsupport.collection import SETTINGS_KEY

    return request.config.stash[SETTINGS_KEY]


@pytest.fixture(scope="session")
def engine_factory() -> Callable[[str], AsyncEngine]:
    """How the tests build an engine from a URL (`engine`, and tests that need a second one)."""
    return make_test_engine


@pytest.fixture(scope="session")
def run_migrations(testsupport_settings: Settings) -> Migrate:
    """Bring the database on a sync connection to the schema: Alembic `upgrade head`, or
    create_all with --no-migrations or without an Alembic config. Every engine but that
    connection's is refused before it connects meanwhile (testsupport.net: an env.py building its
    own engine from sqlalchemy.url would migrate that database)."""
    return migrating(testsupport_settings.migrate)


@pytest.fixture(scope="session")
def migrations_fingerprint(testsupport_settings: Settings) -> str:
    """A hash of the migrations folder (or of the models' DDL for create_all): --reuse-db keeps a
    template per value, so changed migrations always get a fresh one."""
    return testsupport_settings.fingerprint


@pytest.fixture(scope="session")
async def engine(
    database_url: str, engine_factory: Callable[[str], AsyncEngine], anyio_session_runner: object
) -> AsyncIterator[AsyncEngine]:
    """The session's engine for the current database, disposed on the loop that opened it."""
    engine = engine_factory(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def schema(
    engine: AsyncEngine, run_migrations: Migrate, database: str, request: pytest.FixtureRequest
) -> AsyncEngine:
    """The engine, its database at the schema: migrated on the engine's own connection, inside this
    loop (env.py must use the connection it is handed; asyncio.run() would fail here). PostgreSQL's
    clone comes migrated from the run's template; MariaDB has no template databases, so each
    worker's database is migrated here.
    https://alembic.sqlalchemy.org/en/latest/cookbook.html#sharing-a-connection-across-one-or-more-programmatic-migration-commands
    """
    if database in MIGRATED_BY_SCHEMA:
        async with engine.begin() as connection:
            with wrong_env_py_stops_the_run(request.session):
                await connection.run_sync(run_migrations)
            if database == "mariadb":
                await connection.run_sync(require_transactional_tables)
    return engine
