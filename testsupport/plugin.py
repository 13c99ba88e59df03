"""The pytest plugin: hooks, and every fixture of testsupport in one namespace.

Load it with ``pytest_plugins = ["testsupport.plugin"]`` in your top-level conftest.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator
from inspect import iscoroutinefunction

import pytest
from sqlalchemy.dialects import registry

from testsupport import net, postgres
from testsupport.app import (
    api_token,
    app,
    app_factory,
    app_sessions,
    bare_app,
    bare_client,
    client,
    refusing_engine,
    running_app,
    running_bare_app,
    session_app,
    test_settings,
)
from testsupport.databases import (
    DATABASES,
    database,
    database_url,
    empty_database_url,
    postgres_url,
    sqlite_driver,
    sqlite_folder,
    sqlite_url,
)
from testsupport.engine import engine, engine_factory, migrations_fingerprint, run_migrations, schema
from testsupport.loop import BACKENDS, anyio_backend, anyio_session_runner
from testsupport.queries import count_queries
from testsupport.transaction import db_connection, db_session

__all__ = [
    "anyio_backend",
    "anyio_session_runner",
    "api_token",
    "app",
    "app_factory",
    "app_sessions",
    "bare_app",
    "bare_client",
    "client",
    "count_queries",
    "database",
    "database_url",
    "db_connection",
    "db_session",
    "empty_database_url",
    "engine",
    "engine_factory",
    "migrations_fingerprint",
    "postgres_url",
    "refusing_engine",
    "run_migrations",
    "running_app",
    "running_bare_app",
    "schema",
    "session_app",
    "sqlite_driver",
    "sqlite_folder",
    "sqlite_url",
    "test_settings",
]

# SQLAlchemy's async layer (pool queue, locks, clean-up) and both drivers are asyncio-only;
# upstream declined an anyio port (sqlalchemy/awaitlet PR #7). ../shared/FINDINGS.md section 2.
DB_BACKENDS = ("asyncio",)
TRIO_REASON = "SQLAlchemy's async layer and its drivers run on asyncio only"

_backends_key = pytest.StashKey[list[str]]()
_deselected_key = pytest.StashKey[Counter[str]]()
_postgres_report_key = pytest.StashKey[str]()

registry.register("sqlite.syncsqlite", "testsupport.sqlite_dialect", "SQLiteDialect_syncsqlite")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--anyio-backends",
        default=",".join(BACKENDS),
        help=f"comma-separated backends to run async tests on (default: {','.join(BACKENDS)})",
    )
    parser.addoption(
        "--reuse-db",
        action="store_true",
        help="keep the embedded PostgreSQL cluster and the migrated template for the next run; both are "
        "keyed on the PostgreSQL build and a hash of the migration files, so a schema change is never missed",
    )
    parser.addoption(
        "--sqlite-driver",
        choices=("syncsqlite", "aiosqlite"),
        default="syncsqlite",
        help="SQLite driver for the tests: syncsqlite (sqlite3 on the loop's thread, fast; default) or "
        "aiosqlite (what the app uses in production)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "sqlite: runs on the SQLite target",
        "postgres: runs on the PostgreSQL target",
        "db(transaction=False): uses a database (deselected on trio); transaction=True: real commits, "
        "tables emptied after the test",
    ):
        config.addinivalue_line("markers", line)
    workerinput = getattr(config, "workerinput", None)  # set in xdist workers only
    postgres.join_run(workerinput["workerid"] if workerinput else None, reuse=config.getoption("--reuse-db"))
    chosen = [b.strip() for b in config.getoption("--anyio-backends").split(",") if b.strip()]
    if not chosen or set(chosen) - set(BACKENDS):
        raise pytest.UsageError(f"--anyio-backends takes a comma-separated subset of {','.join(BACKENDS)}")
    config.stash[_backends_key] = chosen
    config.stash[_deselected_key] = Counter()
    net.install(config)  # testsupport.net: the safety net over every engine


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Module | pytest.Class, name: str, obj: object) -> None:
    # Every async test runs under anyio and holds the session's runner, with no marker needed.
    if collector.istestfunction(obj, name) and iscoroutinefunction(obj):
        pytest.mark.anyio(obj)
        pytest.mark.usefixtures("anyio_backend", "anyio_session_runner")(obj)


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Generator[None]:
    yield  # after pytest's own reordering, which groups by parameter only heuristically
    chosen = config.stash[_backends_key]
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    counts = config.stash[_deselected_key]
    for item in items:
        backend, target = _params(item)
        if backend is not None and backend not in chosen:
            reason = "not in --anyio-backends"
        elif backend is not None and target is not None and backend not in DB_BACKENDS:
            reason = f"{backend} x database: {TRIO_REASON}"
        else:
            keep.append(item)
            continue
        dropped.append(item)
        counts[reason] += 1
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    # One block per backend and, inside it, per database: each runner and each engine is set up
    # exactly once. sort() is stable, so module order is kept inside a block.
    targets = [str(p.id) for p in DATABASES]
    keep.sort(key=lambda item: _block(item, BACKENDS, targets))
    items[:] = keep


def _params(item: pytest.Item) -> tuple[str | None, str | None]:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None, None
    return callspec.params.get("anyio_backend"), callspec.params.get("database")


def _block(item: pytest.Item, backends: tuple[str, ...], targets: list[str]) -> tuple[int, int]:
    backend, target = _params(item)
    return (
        -1 if backend is None else backends.index(backend),
        -1 if target is None else targets.index(target),
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    for reason, count in config.stash.get(_deselected_key, Counter()).items():
        terminalreporter.write_line(f"testsupport: deselected {count} tests ({reason})")
    report = config.stash.get(_postgres_report_key, "")
    if report:
        terminalreporter.write_line(f"testsupport: {report}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):
        session.config.stash[_postgres_report_key] = postgres.run_report()
        postgres.finish_run()
