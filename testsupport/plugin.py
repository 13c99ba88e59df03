"""The pytest11 entry point: installed, testsupport is loaded by every pytest in the environment,
and stays inert until the project sets ``testsupport_app`` in its ini file.

Here: only the command-line options and ini keys (so ``pytest --help`` lists them), and the switch.
When configured, pytest_configure registers the fixture modules and the collection hooks; nothing
else is imported before that, so an unconfigured suite runs exactly as it would without it.
"""

from __future__ import annotations

import pytest

# ini key -> help line (pytest --help lists them under [pytest] ini-options).
KEYS = {
    "testsupport_app": "the ASGI app or app factory under test, 'package.module:attribute' (turns testsupport on)",
    "testsupport_sessionmaker": "where the app's handlers get their sessions: an async_sessionmaker, or a "
    "function of an engine returning one, 'package.module:attribute'",
    "testsupport_session_dependency": "fallback: the app's session dependency (e.g. get_db), overridden to "
    "yield the test's session; costs ~0.3 ms per request",
    "testsupport_alembic_config": "alembic.ini or pyproject.toml ([tool.alembic]), relative to the rootdir",
    "testsupport_metadata": "the models' MetaData, 'package.module:Base.metadata': for --no-migrations, or "
    "the schema when there is no Alembic config",
}
BACKENDS = ("asyncio", "trio")


def installed_backends() -> list[str]:
    """asyncio, and trio when it is installed (it is optional)."""
    import importlib.util

    return [b for b in BACKENDS if b == "asyncio" or importlib.util.find_spec(b) is not None]


FIXTURE_MODULES = (
    "testsupport.loop",
    "testsupport.databases",
    "testsupport.engine",
    "testsupport.transaction",
    "testsupport.app",
    "testsupport.queries",
    "testsupport.collection",
    "testsupport.interrupt",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    for key, help_line in KEYS.items():
        parser.addini(key, help=f"testsupport: {help_line}", type="string", default="")
    group = parser.getgroup("testsupport", "testsupport (active when testsupport_app is set)")
    group.addoption(
        "--anyio-backends",
        default=None,
        help="comma-separated backends to run async tests on (default: asyncio, and trio if installed)",
    )
    group.addoption(
        "--reuse-db",
        action="store_true",
        help="keep the embedded PostgreSQL cluster and the migrated template for the next run; both are "
        "keyed on the PostgreSQL build and a hash of the migration files, so a schema change is never missed",
    )
    group.addoption(
        "--no-migrations",
        action="store_true",
        help="build the test schema with create_all from testsupport_metadata instead of running the "
        "Alembic migrations (like pytest-django's --no-migrations)",
    )
    group.addoption(
        "--sqlite-driver",
        choices=("syncsqlite", "aiosqlite"),
        default="syncsqlite",
        help="SQLite driver for the tests: syncsqlite (sqlite3 on the loop's thread, fast; default) or "
        "aiosqlite (what an app uses in production)",
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    # trylast: after conftest.py files and `pythonpath` have put the project on sys.path.
    from testsupport import config as settings

    if not str(config.getini("testsupport_app") or "").strip():
        settings.load(config)  # inert; it only refuses testsupport keys and options set without the app
        return
    from testsupport import net

    # The net first: resolving the keys imports the project's modules, and an engine they build at
    # import time must be recorded (its URL, where it was made) for the net's messages.
    watching = net.install(config)
    try:
        loaded = settings.load(config)
    except BaseException:
        net.remove(config, watching)
        raise
    assert loaded is not None
    for line in (  # before the fixture modules are imported: their parameters carry these marks
        "sqlite: runs on the SQLite target",
        "postgres: runs on the PostgreSQL target",
        "db(transaction=False): uses a database (deselected on trio); transaction=True: real commits, "
        "tables emptied after the test",
    ):
        config.addinivalue_line("markers", line)
    import importlib

    from testsupport import collection

    option = config.getoption("--anyio-backends")
    chosen = installed_backends() if option is None else [b.strip() for b in option.split(",") if b.strip()]
    if not chosen or set(chosen) - set(BACKENDS):
        raise pytest.UsageError(f"--anyio-backends takes a comma-separated subset of {','.join(BACKENDS)}")
    collection.start(config, loaded, chosen)
    for name in FIXTURE_MODULES:
        config.pluginmanager.register(importlib.import_module(name), f"testsupport:{name}")
