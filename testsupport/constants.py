"""Names the entry point and the modules it loads share: the ini keys and the anyio backends. A
module of its own, so that those modules need not import the entry point that loaded them, and
cheap: the entry point imports it in every pytest run, configured or not."""

from __future__ import annotations

import importlib.util

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
    "testsupport_databases": "the database targets the project's tests run on, comma-separated (default: all)",
    "testsupport_base_url": "the URL `client` and `bare_client` send requests to (default: http://testserver)",
    "testsupport_migration_checks": "a folder of the tests, relative to the rootdir (e.g. 'tests'): collect "
    "testsupport's migration checks there, on every database target (needs testsupport_alembic_config)",
}
BACKENDS = ("asyncio", "trio")

# The fixtures testsupport defines once configured (tests/adoption/test_frictions.py checks the list),
# but anyio_backend, which anyio's plugin defines too: requested in a run where testsupport is not
# configured, the failure ("fixture 'client' not found") also names the keys that turn them on.
FIXTURES = frozenset(
    {
        "anyio_session_runner", "app", "app_sessions", "assert_max_queries", "assert_num_queries", "bare_app",
        "bare_client", "client", "client_base_url", "client_headers", "count_queries", "database", "database_url",
        "db_connection", "db_session", "empty_database_url", "engine", "engine_factory", "forbid_lazy_loads",
        "mariadb_url", "migration_database_url", "migration_runner", "migrations_fingerprint", "postgres_url",
        "refusing_engine", "run_migrations", "running_app", "running_bare_app", "schema", "session_app",
        "sqlite_driver", "sqlite_folder", "sqlite_url", "testsupport_sequences", "testsupport_settings",
        "testsupport_transaction",
    }
)  # fmt: skip


def installed_backends() -> list[str]:
    """asyncio, and trio when it is installed (it is optional)."""
    return [b for b in BACKENDS if b == "asyncio" or importlib.util.find_spec(b) is not None]
