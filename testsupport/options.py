"""testsupport's command-line options, ini keys and marks, and nothing else: a pytest11 entry point
of its own, also named in plugin.py's ``pytest_plugins``. Turning the plugin off for a run
(``-p no:testsupport.plugin``) leaves this module loaded, so a project's ``testsupport_*`` keys and
``db`` marks stay known and ``--strict-config`` / ``--strict-markers`` accept them; without plugin
autoload, ``-p testsupport.options`` does the same."""

from __future__ import annotations

import pytest

from testsupport.constants import KEYS


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


def pytest_configure(config: pytest.Config) -> None:
    # Here, not in plugin.py: with the plugin off (-p no:testsupport.plugin) or not yet configured, a
    # suite's @pytest.mark.db stays known under --strict-markers. Registered before the fixture
    # modules are imported: their parameters carry these marks.
    for line in (
        "sqlite: runs on the SQLite target",
        "postgres: runs on the PostgreSQL target",
        "mariadb: runs on the MariaDB target (also marked mysql)",
        "mysql: runs on the MariaDB target (the MySQL family)",
        "db(transaction=False, databases=None): uses a database (deselected on trio); transaction=True: real "
        "commits, the database restored after the test; databases='postgres' (or a list): only on those targets",
        # pytest-asyncio's, left over in a migrated suite: accepted (no PytestUnknownMarkWarning), and counted.
        "asyncio: pytest-asyncio's mark, left over: testsupport runs async tests without a marker",
    ):
        config.addinivalue_line("markers", line)
