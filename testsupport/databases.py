"""The database target: the same tests on SQLite, PostgreSQL and MariaDB.

``database`` is the session parameter (ids and markers ``sqlite``, ``postgres`` and ``mariadb``, so
both ``-k`` and ``-m`` select; ``mysql`` is a second marker of ``mariadb``). Each target's URL comes
from a fixture of its own, resolved only when a test of that target runs: ``pytest -k sqlite`` never
looks for PostgreSQL or MariaDB.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from testsupport.mariadb import mariadb_database
from testsupport.migrations.source import wrong_env_py_stops_the_run
from testsupport.postgres import Migrate, postgres_database, run_scratch

DATABASES = (
    pytest.param("sqlite", id="sqlite", marks=[pytest.mark.sqlite, pytest.mark.db]),
    pytest.param("postgres", id="postgres", marks=[pytest.mark.postgres, pytest.mark.db]),
    pytest.param("mariadb", id="mariadb", marks=[pytest.mark.mariadb, pytest.mark.mysql, pytest.mark.db]),
)
# Targets whose database is migrated by the `schema` fixture on the session's engine (PostgreSQL's
# comes migrated, a clone of the run's template).
MIGRATED_BY_SCHEMA = ("sqlite", "mariadb")


@pytest.fixture(scope="session", params=DATABASES)
def database(request: pytest.FixtureRequest) -> str:
    """Which database this test runs on: ``"sqlite"``, ``"postgres"`` or ``"mariadb"``."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def database_url(database: str, request: pytest.FixtureRequest) -> str:
    """A database of the current target for this session (and xdist worker), migrated or not
    (the ``schema`` fixture brings it to head either way). A ``str`` whose ``repr`` hides the
    password (testsupport.redact)."""
    url: str = request.getfixturevalue(f"{database}_url")
    return url


@pytest.fixture(scope="session")
def sqlite_driver(request: pytest.FixtureRequest) -> str:
    """``syncsqlite`` (testsupport.sqlite_dialect, the default) or ``aiosqlite`` (--sqlite-driver)."""
    driver: str = request.config.getoption("--sqlite-driver")
    return driver


@pytest.fixture(scope="session")
def sqlite_folder() -> Iterator[Path]:
    """A private folder for this session's (and xdist worker's) SQLite files, on tmpfs when there
    is one; removed at the end, or by the next run if this one is killed."""
    folder = run_scratch("testsupport-sqlite")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlite_url(sqlite_folder: Path, sqlite_driver: str) -> str:
    """A fresh SQLite file."""
    return f"sqlite+{sqlite_driver}:///{sqlite_folder / 'test.db'}"


@pytest.fixture(scope="session")
def postgres_url(run_migrations: Migrate, migrations_fingerprint: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """This worker's clone of the run's migrated template database, dropped at the end."""
    with ExitStack() as stack:
        with wrong_env_py_stops_the_run(request.session):  # the template is migrated here
            url = stack.enter_context(
                postgres_database(run_migrations, fingerprint=migrations_fingerprint, session=request.session)
            )
        yield url


@pytest.fixture(scope="session")
def mariadb_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """This worker's own database on the run's MariaDB, empty (`schema` migrates it), dropped at the end."""
    with mariadb_database(session=request.session) as url:
        yield url


@pytest.fixture(scope="session")
def empty_database_url(
    database: str, sqlite_folder: Path, sqlite_driver: str, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A second, unmigrated database of the current target, for tests that migrate up and down
    freely (the shared one stays at head for the savepoint tests)."""
    if database == "sqlite":
        yield f"sqlite+{sqlite_driver}:///{sqlite_folder / 'empty.db'}"
        return
    if database == "mariadb":
        with mariadb_database("_empty", session=request.session) as url:
            yield url
        return
    with postgres_database(None, suffix="_empty", session=request.session) as url:
        yield url
