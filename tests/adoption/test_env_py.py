"""An Alembic env.py that does not migrate the connection testsupport hands it fails every test that
needs the schema the same way: the run stops at the first, with the message and its fix once, on
every target (issue 21: 12 tests printed ~5,000 lines, then an ExceptionGroup under
filterwarnings = error). The inner runs are test_adoption.py's (`service` unimportable in them)."""

from __future__ import annotations

import gc
import inspect
from collections.abc import Coroutine
from typing import Any

import pytest

from tests.adoption.apps import FACTORY_APP, FACTORY_TESTS, readme_block, write
from tests.adoption.test_adoption import BASE, FACTORY_KEYS, run, service_poison_on_path
from tests.adoption.test_adoption import service_unimportable as service_unimportable  # autouse here too

ASYNC_TEMPLATE_ENV_PY = (  # `alembic init -t async`, as it is: no branch for a connection it is handed
    FACTORY_APP["migrations/env.py"].split("connection = config.attributes")[0]
    + "asyncio.run(run_async_migrations())\n"
)
SYNC_TEMPLATE_ENV_PY = """
from alembic import context
from sqlalchemy import engine_from_config, pool

from notes_app.models import Base

config = context.config
connectable = engine_from_config(config.get_section(config.config_ini_section, {}), poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
"""
NOTHING_ENV_PY = "from alembic import context\n\nconfig = context.config  # and nothing is migrated\n"
ENV_PYS = {
    "asyncio-run": (ASYNC_TEMPLATE_ENV_PY, "MigrationsInLoopError"),
    "own-engine": (SYNC_TEMPLATE_ENV_PY, "ForeignEngineError"),
    "ignores-the-connection": (NOTHING_ENV_PY, "MigrationsElsewhereError"),
}
STOPPED = (
    "*! Interrupted: Alembic's env.py cannot migrate the tests' databases (the error above): every test that "
    "needs the schema would fail the same way !*"
)


def project(pytester: pytest.Pytester, env_py: str, ini: str = FACTORY_KEYS) -> None:
    """The factory app with that env.py (the sync template's sqlalchemy.url set) and 12 tests: its
    test file three times (3 database tests and 1 without, each)."""
    files = {**FACTORY_APP, "migrations/env.py": env_py}
    files["alembic.ini"] += "sqlalchemy.url = sqlite:///%(here)s/dev.db\n"
    tests = files.pop(FACTORY_TESTS)
    files.update({FACTORY_TESTS.replace(".py", f"_{n}.py"): tests for n in range(3)})
    write(pytester, files, ini)


def refused_coroutines_left() -> list[Coroutine[Any, Any, Any]]:
    """asyncio.run()'s coroutines that were never started nor closed: each warns "never awaited" when
    collected, an unraisable warning (an ExceptionGroup at the run's end under filterwarnings = error)."""
    gc.collect()
    found: list[Coroutine[Any, Any, Any]] = [
        obj
        for obj in gc.get_objects()
        if inspect.iscoroutine(obj)
        and obj.cr_code.co_name == "run_async_migrations"
        and inspect.getcoroutinestate(obj) == inspect.CORO_CREATED
    ]
    for obj in found:
        obj.close()  # not left to warn in a later test
    return found


def assert_stopped_once(result: pytest.RunResult, error: str) -> None:
    assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()
    result.stdout.fnmatch_lines([STOPPED])
    assert len([line for line in result.outlines if line.startswith(f"{error}: ")]) == 1
    text = result.stdout.str()
    for noise in ("Traceback", "ExceptionGroup", "never awaited", "_ _ _"):
        assert noise not in text
    # One message, not one traceback per test. Counted above pytest's warnings summary: an in-process
    # inner run may add one there (PytestAssertRewriteWarning: testsupport, anyio already imported by
    # this process), depending on what ran before it in this worker.
    report = text.split("= warnings summary =", 1)[0]
    assert len(report.splitlines()) < 35, text


@pytest.mark.parametrize("target", ["sqlite", "postgres", "mariadb"])
@pytest.mark.parametrize("env_py", ["asyncio-run", "own-engine"])
def test_a_wrong_env_py_stops_the_run_once_with_its_fix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, env_py: str, target: str
) -> None:
    text, error = ENV_PYS[env_py]
    project(pytester, text)
    result = run(pytester, monkeypatch, "-k", target)
    result.assert_outcomes(errors=1, deselected=51)  # the first of the target's 9 tests; no other runs
    assert_stopped_once(result, error)
    assert not refused_coroutines_left()
    if env_py == "asyncio-run":
        result.stdout.fnmatch_lines(
            [
                "MigrationsInLoopError: Alembic's env.py called asyncio.run() inside the tests' event loop*",
                '    connection = config.attributes.get("connection")',
            ],
            consecutive=False,
        )
        return
    # The net refuses env.py's own engine before it connects (nothing is written there). On
    # PostgreSQL the run's template is migrated in a worker thread, by `postgres_url`.
    fixture = "postgres_url" if target == "postgres" else "schema"
    scheme = "mysql" if target == "mariadb" else target  # the message names the test database's URL
    result.stdout.fnmatch_lines(
        [
            f"ForeignEngineError: While testsupport built the test schema on {scheme}*, the engine for "
            f"sqlite:///{pytester.path}/dev.db, created at migrations/env.py:* (<module>) was opened (at "
            f"migrations/env.py:* (<module>), *during the set-up of session-scoped fixture `{fixture}`): the "
            "migrations (Alembic's env.py, or code it imports) built an engine of their own*Refused before it "
            "connected: nothing was written there. Fix: make env.py run the migrations on the connection "
            "testsupport hands it*config.attributes.get('connection')*",
        ]
    )
    assert not (pytester.path / "dev.db").exists()  # sqlite3 creates the file when it connects


def test_an_env_py_that_migrates_nothing_stops_the_run_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(pytester, NOTHING_ENV_PY)
    result = run(pytester, monkeypatch, "-k", "sqlite")
    result.assert_outcomes(errors=1, deselected=51)
    assert_stopped_once(result, "MigrationsElsewhereError")
    result.stdout.fnmatch_lines(
        ["MigrationsElsewhereError: Alembic's env.py did not migrate the connection testsupport handed it*"]
    )


def test_the_migration_checks_stop_the_same_way(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # The checks run env.py on databases of their own (migration_runner), one test after another.
    project(pytester, ASYNC_TEMPLATE_ENV_PY, FACTORY_KEYS + readme_block("migration-checks"))
    result = run(pytester, monkeypatch, "-k", "migrations and sqlite")
    result.assert_outcomes(failed=1, deselected=76)
    assert_stopped_once(result, "MigrationsInLoopError")
    assert not refused_coroutines_left()


def test_a_wrong_env_py_stops_an_xdist_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    service_poison_on_path(pytester, monkeypatch)
    project(pytester, ASYNC_TEMPLATE_ENV_PY, FACTORY_KEYS + 'filterwarnings = ["error"]\n')
    result = pytester.runpytest_subprocess(*BASE, "-p", "xdist", "-n", "2", "-k", "sqlite")
    # Each worker builds its own schema: one error per worker at most (the other may finish first).
    errors = result.parseoutcomes()["errors"]
    assert errors in (1, 2), result.stdout.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([STOPPED.replace("Interrupted", "xdist.dsession.Interrupted")])
    assert len([line for line in result.outlines if line.startswith("MigrationsInLoopError: ")]) == errors
    assert "ExceptionGroup" not in result.stdout.str() + result.stderr.str()
