"""The safety net, run on small suites of its own (tests/safety/suites.py, and the pitfall
"app-own-engine-from-settings" from testsupport's registry) on both databases: each misuse fails
where it happens, with the message that names the fix, and nothing reaches a database the test did
not set up. The "sentinel" database stands for the developer's own: it holds rows the run must
leave exactly as they were. Each inner suite is configured by ini keys, as an adopter's is."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from service.db import async_url, make_engine
from tests.inner import ARGS as INNER_ARGS
from tests.inner import run_inprocess
from tests.safety.suites import (
    COMMIT,
    COMMIT_MESSAGE,
    FOREIGN_ENGINE_MESSAGE,
    LIFESPAN_APP,
    LIFESPAN_MESSAGE,
    LIFESPAN_RIGHT,
    LIFESPAN_TESTS,
    LIFESPAN_WRONG,
    MISUSE_MESSAGES,
    MISUSES,
    OWN_ENGINE_APP,
    OWN_ENGINE_RIGHT_SESSIONS,
    OWN_ENGINE_TESTS,
    OWN_ENGINE_WRONG_SESSIONS,
    project_ini,
)
from tests.service_suite import use_service
from testsupport.pg.server import in_thread
from testsupport.pitfalls import PITFALLS
from testsupport.pitfalls.run import SUITES
from testsupport.postgres import postgres_database

SENTINEL_ROWS = [("sentinel-1@example.com", "Kept"), ("sentinel-2@example.com", "Kept too")]


def sentinel_rows(url: str) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(text("SELECT email, name FROM users ORDER BY email"))
                return [(email, name) for email, name in rows]
        finally:
            await engine.dispose()

    result: list[tuple[str, str]] = in_thread(lambda: asyncio.run(read()))
    return result


@pytest.fixture
def sentinel_url(database: str, tmp_path: Path) -> Iterator[str]:
    """A throwaway database of the current target with a `users` table holding two rows."""

    def fill(url: str, key: str) -> str:
        async def create() -> None:
            engine = make_engine(url)
            try:
                async with engine.begin() as connection:
                    await connection.execute(
                        text(f"CREATE TABLE users (id {key}, email VARCHAR(255) NOT NULL UNIQUE, name VARCHAR(100))")
                    )
                    for email, name in SENTINEL_ROWS:
                        await connection.execute(
                            text("INSERT INTO users (email, name) VALUES (:email, :name)"),
                            {"email": email, "name": name},
                        )
            finally:
                await engine.dispose()

        in_thread(lambda: asyncio.run(create()))
        return url

    if database == "sqlite":
        yield fill(f"sqlite+aiosqlite:///{tmp_path / 'sentinel.db'}", "INTEGER PRIMARY KEY")
        return
    with postgres_database(None, suffix="_sentinel") as url:
        yield fill(url, "SERIAL PRIMARY KEY")


OWN_ENGINE = PITFALLS["app-own-engine-from-settings"]
OWN_ENGINE_SUITE = SUITES / OWN_ENGINE.wrong.split("/")[0]  # the registry's files, not a copy


def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> pytest.RunResult:
    """An inner session in this process (tests/inner.py): a subprocess costs a new interpreter and
    its imports, seconds under load, for a run of tenths of a second. The net's listeners stay the
    outer run's (install() leaves them to their owner); NET follows the inner tests and is idle
    again when the inner run ends. No bytecode is written: a test rewrites its app module or test
    file between two runs, and a .pyc of the first (same second, same size) must not be reused."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    # --tb=native: pytest's own traceback style parses the source of every frame (hundreds in
    # SQLAlchemy), seconds per failing inner test; the messages asserted are the same lines.
    result = run_inprocess(pytester, monkeypatch, "--tb=native", *args)
    # pytest keeps an inner test's failure in sys.last_* (its frames, and the coroutines in them);
    # a subprocess would drop it at exit. Drop it and collect it here, so what an interrupted
    # handler leaves unawaited ("coroutine ... was never awaited") stays the inner run's, as it did
    # in a subprocess, instead of surfacing as an unraisable warning in a later outer test.
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            delattr(sys, name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "unraisablehook", lambda _: None)
        gc.collect()
    return result


def run(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    suite: str,
    *args: str,
    app: str = "",
    subprocess: bool = False,
) -> pytest.RunResult:
    """``suite`` as test_suite.py; ``app``: the module ownapp.py that testsupport_app names (else
    the project is the service itself)."""
    if app:
        pytester.makepyprojecttoml(project_ini())
        pytester.makepyfile(ownapp=app)
    else:
        use_service(pytester)
    pytester.makepyfile(test_suite=suite)
    if subprocess:  # plugins named, not discovered, as in process (tests/inner.py)
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        return pytester.runpytest_subprocess(*INNER_ARGS, "--tb=native", *args)
    return inner(pytester, monkeypatch, *args)


def run_pitfall(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, folder: str, *args: str, testsupport: bool = True
) -> pytest.RunResult:
    """The registry's suite ``folder`` (wrong or fixed) with its app and its pytest.ini; without
    ``testsupport`` the ini has no testsupport_app key, as before a project adopts it."""
    ini = (OWN_ENGINE_SUITE / "pytest.ini").read_text() if testsupport else "[pytest]\npythonpath = .\n"
    pytester.makefile(".ini", pytest=ini)
    app = OWN_ENGINE_SUITE / "settingsapp.py"
    pytester.makepyfile(settingsapp=app.read_text())
    (test,) = (OWN_ENGINE_SUITE / folder).glob("test_*.py")
    pytester.makepyfile(**{test.stem: test.read_text()})
    return inner(pytester, monkeypatch, *args)


def settings_url(sentinel_url: str) -> str:
    return async_url(sentinel_url).render_as_string(hide_password=False)


def shown(sentinel_url: str) -> str:
    return async_url(sentinel_url).render_as_string(hide_password=True)


def test_without_testsupport_the_apps_own_engine_writes_into_the_settings_database(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sentinel_url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings_url(sentinel_url))
    result = run_pitfall(pytester, monkeypatch, "wrong", testsupport=False)
    result.assert_outcomes(passed=1)  # "passed": and a row landed in the developer's database
    assert sentinel_rows(sentinel_url) == sorted([*SENTINEL_ROWS, ("a@example.com", "A")])


def test_with_testsupport_the_apps_own_engine_is_blocked_and_the_settings_database_is_untouched(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sentinel_url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings_url(sentinel_url))
    result = run_pitfall(pytester, monkeypatch, "wrong", *OWN_ENGINE.select)
    result.assert_outcomes(**OWN_ENGINE.outcome)
    result.stdout.fnmatch_lines(
        [
            "*DatabaseBlockedError: test_app_own_engine_from_settings.py::test_create_user did not ask for the "
            f"database, but it used the engine for {shown(sentinel_url)}, created at settingsapp.py:* (<module>).*"
        ]
    )
    assert sentinel_rows(sentinel_url) == SENTINEL_ROWS
    fixed = run_pitfall(pytester, monkeypatch, "fixed", *OWN_ENGINE.select)
    fixed.assert_outcomes(passed=1, deselected=5)
    assert sentinel_rows(sentinel_url) == SENTINEL_ROWS


def run_own_engine_app(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sentinel_url: str, database: str, sessions: str
) -> pytest.RunResult:
    """The factory app whose settings name the sentinel database, with ``sessions`` as its way to them."""
    monkeypatch.setenv("APP_DATABASE_URL", sentinel_url)
    app = OWN_ENGINE_APP.format(sessions=sessions)
    return run(pytester, monkeypatch, OWN_ENGINE_TESTS, "-k", database, app=app)


def test_with_testsupport_a_factory_ignoring_the_sessionmaker_fails_and_the_settings_database_is_untouched(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sentinel_url: str, database: str
) -> None:
    result = run_own_engine_app(pytester, monkeypatch, sentinel_url, database, OWN_ENGINE_WRONG_SESSIONS)
    result.assert_outcomes(failed=1, deselected=5)
    result.stdout.fnmatch_lines([f"*ForeignEngineError: *the engine for {shown(sentinel_url)}, created at*"])
    result.stdout.fnmatch_lines([FOREIGN_ENGINE_MESSAGE.format(url="*")])
    assert sentinel_rows(sentinel_url) == SENTINEL_ROWS


def test_the_fix_hands_the_app_the_tests_sessions(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sentinel_url: str, database: str
) -> None:
    result = run_own_engine_app(pytester, monkeypatch, sentinel_url, database, OWN_ENGINE_RIGHT_SESSIONS)
    result.assert_outcomes(passed=1, deselected=5)
    assert sentinel_rows(sentinel_url) == SENTINEL_ROWS


def test_a_lifespan_that_ignores_the_given_sessionmaker_fails_naming_the_cause(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, database: str, database_url: str
) -> None:
    result = run(
        pytester, monkeypatch, LIFESPAN_TESTS, "-k", database, app=LIFESPAN_APP.format(lifespan=LIFESPAN_WRONG)
    )
    result.assert_outcomes(failed=2, deselected=10)
    result.stdout.fnmatch_lines([LIFESPAN_MESSAGE])
    fixed = run(pytester, monkeypatch, LIFESPAN_TESTS, "-k", database, app=LIFESPAN_APP.format(lifespan=LIFESPAN_RIGHT))
    fixed.assert_outcomes(passed=2, deselected=10)


def test_committing_the_tests_connection_fails_there_and_leaks_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, database: str, database_url: str
) -> None:
    result = run(pytester, monkeypatch, COMMIT, "-k", database)
    result.assert_outcomes(failed=1, passed=1, deselected=10)
    result.stdout.fnmatch_lines([COMMIT_MESSAGE])


def test_each_misuse_fails_where_it_happens_and_leaks_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, database: str, database_url: str
) -> None:
    others = " and ".join(f"not {other}" for other in ("sqlite", "postgres", "mariadb") if other != database)
    # In a subprocess: an interrupted handler in this suite leaves a coroutine (AsyncSession.close)
    # unawaited and referenced until the process ends; in process it would surface as an
    # unraisable-exception error at the end of the outer run.
    result = run(pytester, monkeypatch, MISUSES, "-k", others, subprocess=True)
    result.assert_outcomes(failed=7, errors=1, passed=2, deselected=20)
    for message in MISUSE_MESSAGES:  # in the order the failures are reported
        result.stdout.fnmatch_lines([message])
