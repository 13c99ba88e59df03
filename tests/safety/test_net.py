"""The safety net, run on small suites of its own (tests/safety/suites.py, and the pitfall
"app-own-engine-from-settings" from testsupport's registry) on both databases: each misuse fails
where it happens, with the message that names the fix, and nothing reaches a database the test did
not set up. The "sentinel" database stands for the developer's own: it holds rows the run must
leave exactly as they were. Each inner suite is configured by ini keys, as an adopter's is."""

from __future__ import annotations

import pytest

from tests.safety.harness import SENTINEL_ROWS, inner, run, sentinel_rows, settings_url, shown
from tests.safety.suites import (
    COMMIT,
    COMMIT_MESSAGE,
    FOREIGN_ENGINE_MESSAGE,
    KEYWORDS_APP,
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
)
from testsupport.pitfalls import PITFALLS
from testsupport.pitfalls.run import SUITES

OWN_ENGINE = PITFALLS["app-own-engine-from-settings"]
OWN_ENGINE_SUITE = SUITES / OWN_ENGINE.wrong.split("/")[0]  # the registry's files, not a copy


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
            f"database, but it used the engine for {shown(sentinel_url)}, created at settingsapp.py:* (<module>) "
            "(at settingsapp.py:* (create_user), during *)*"
        ]
    )
    assert sentinel_rows(sentinel_url) == SENTINEL_ROWS
    fixed = run_pitfall(pytester, monkeypatch, "fixed", *OWN_ENGINE.select)
    fixed.assert_outcomes(passed=1, deselected=5)
    assert sentinel_rows(sentinel_url) == SENTINEL_ROWS


def run_own_engine_app(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    sentinel_url: str,
    database: str,
    sessions: str,
    app: str = OWN_ENGINE_APP,
) -> pytest.RunResult:
    """The factory app whose settings name the sentinel database, with ``sessions`` as its way to them."""
    monkeypatch.setenv("APP_DATABASE_URL", sentinel_url)
    app = app.format(sessions=sessions)
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


def test_a_module_engine_made_with_echo_pre_ping_and_execution_options_adopts(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sentinel_url: str, database: str
) -> None:
    app = KEYWORDS_APP
    result = run_own_engine_app(pytester, monkeypatch, sentinel_url, database, OWN_ENGINE_RIGHT_SESSIONS, app)
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
