"""The ways out of the net issue 20 found, each closed: an app whose module-global engine names the
sentinel database (the developer's own, two rows) writes through it at import, in fixtures' set-up
and teardown, from a task, a thread, a lifespan's worker, and through an engine pooled before
testsupport loaded. Each run fails with the net's error naming the phase and the code, and the
sentinel keeps its rows. The other doors out of the test's outer transaction are refused at the line
that opens them. Suites: tests/safety/escapes.py."""

from __future__ import annotations

import os

import pytest

from tests.safety.escapes import (
    ALLOWED,
    AT_IMPORT,
    CONFTEST_AT_IMPORT,
    EARLY_PLUGIN,
    EARLY_TESTS,
    ESCAPE_APP,
    LIFESPAN_WORKER_APP,
    LIFESPAN_WORKER_TESTS,
    OUTER_DOORS,
    SETUP,
    SYNC_TEST,
    TASK_IN_TEARDOWN,
    TEARDOWN,
    THREAD,
)
from tests.safety.harness import SENTINEL_ROWS, run, sentinel_rows, shown
from tests.service_suite import ROOT

ASYNCIO = "--anyio-backends=asyncio"
OUTSIDE = "outside any test that asked for the database*Fix: write test data through `db_session`*"


def escape(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    sentinel_url: str,
    suite: str,
    *args: str,
    app: str = ESCAPE_APP,
    subprocess: bool = False,
) -> pytest.RunResult:
    monkeypatch.setenv("APP_DATABASE_URL", sentinel_url)
    return run(pytester, monkeypatch, suite, ASYNCIO, *args, app=app, subprocess=subprocess)


def failed_passed_skipped(result: pytest.RunResult) -> tuple[int, int, int]:
    outcomes = result.parseoutcomes()
    return outcomes.get("failed", 0), outcomes.get("passed", 0), outcomes.get("skipped", 0)


def refused(result: pytest.RunResult, sentinel_url: str, lines: list[str]) -> None:
    """The run showed the net's error, and the developer's database kept exactly its rows."""
    result.stdout.fnmatch_lines(lines)
    assert sentinel_rows(sentinel_url) == SENTINEL_ROWS


def created(sentinel_url: str) -> str:
    return f"the engine for {shown(sentinel_url)}, created at ownapp.py:* (<module>)"


@pytest.mark.parametrize(
    ("suite", "caller", "phase"),
    [
        (AT_IMPORT, "<module>", "start-up (the import of the project's modules*)"),
        (SETUP, "seed", "the set-up of session-scoped fixture `seed`"),
    ],
    ids=["at-import", "session-fixture-set-up"],
)
def test_a_write_outside_the_tests_is_refused(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sentinel_url: str, suite: str, caller: str, phase: str
) -> None:
    result = escape(pytester, monkeypatch, sentinel_url, suite)
    result.assert_outcomes(errors=1)
    line = f"*DatabaseBlockedError: {created(sentinel_url)} was used at ownapp.py:* (write), called from "
    refused(result, sentinel_url, [f"{line}test_suite.py:* ({caller}), * during {phase}, {OUTSIDE}"])


def test_a_conftest_writing_at_import_is_refused(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sentinel_url: str
) -> None:
    # In a process of its own: a conftest.py that fails to import ends the run before
    # pytest_configure, so an inline run would not give the outer run its state back.
    pytester.makeconftest(CONFTEST_AT_IMPORT)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))  # the initial conftest imports before `pythonpath`
    result = escape(pytester, monkeypatch, sentinel_url, AT_IMPORT.replace("asyncio.run", "# "), subprocess=True)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"*DatabaseBlockedError: {created(sentinel_url)} was used at ownapp.py:* (write), called from "
            f"conftest.py:* (<module>), * during start-up (the import of the project's modules*), {OUTSIDE}"
        ]
    )
    assert sentinel_rows(sentinel_url) == SENTINEL_ROWS


@pytest.mark.parametrize("scope", ["session", "module"])
def test_a_wider_fixtures_teardown_writing_through_the_apps_engine_is_refused(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sentinel_url: str, scope: str
) -> None:
    result = escape(pytester, monkeypatch, sentinel_url, TEARDOWN.format(scope=scope))
    assert result.ret != 0
    refused(
        result,
        sentinel_url,
        [
            f"*DatabaseBlockedError: {created(sentinel_url)} was used at test_suite.py:* (wipe), during the "
            f"teardown of {scope}-scoped fixture `wipe`, {OUTSIDE}"
        ],
    )


def test_a_function_fixtures_teardown_writing_through_the_apps_engine_is_refused(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sentinel_url: str
) -> None:
    result = escape(pytester, monkeypatch, sentinel_url, TEARDOWN.format(scope="function"))
    result.assert_outcomes(passed=1, errors=1)
    refused(
        result,
        sentinel_url,
        [
            "*DatabaseBlockedError: test_suite.py::test_uses_the_fixture[[]asyncio[]] did not ask for the database, "
            f"but it used {created(sentinel_url)} (at test_suite.py:* (wipe), during the teardown of "
            "test_suite.py::test_uses_the_fixture[[]asyncio[]])*"
        ],
    )


def test_a_task_started_in_a_teardown_is_refused_and_fails_the_teardown(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sentinel_url: str
) -> None:
    result = escape(pytester, monkeypatch, sentinel_url, TASK_IN_TEARDOWN)
    result.assert_outcomes(passed=1, errors=1)
    refused(
        result,
        sentinel_url,
        [
            "*DatabaseBlockedError: test_suite.py::test_uses_the_fixture[[]asyncio[]] did not ask for the database, "
            f"but it used {created(sentinel_url)} (at ownapp.py:* (write), in task `*` (running write), during the "
            "teardown of test_suite.py::test_uses_the_fixture[[]asyncio[]])*",
        ],
    )


def test_a_daemon_thread_writing_in_a_loop_is_refused_and_fails_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sentinel_url: str
) -> None:
    # In a process of its own: the thread runs until that process ends.
    result = escape(pytester, monkeypatch, sentinel_url, THREAD, subprocess=True)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    refused(
        result,
        sentinel_url,
        [
            "*DatabaseBlockedError: *used*at ownapp.py:* (write), called from test_suite.py:* (writer), in thread "
            "`outbox` (running writer), during *"
        ],
    )


def test_a_lifespan_worker_writing_through_the_apps_engine_is_refused(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sentinel_url: str, database: str
) -> None:
    result = escape(pytester, monkeypatch, sentinel_url, LIFESPAN_WORKER_TESTS, "-k", database, app=LIFESPAN_WORKER_APP)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    refused(
        result,
        sentinel_url,
        [
            "*ForeignEngineError: the app's lifespan uses testsupport's database, but a connection was opened on "
            f"{created(sentinel_url)} (at ownapp.py:* (write), called from ownapp.py:* (outbox), in task "
            "`ownapp.outbox`, during the app's lifespan)*"
        ],
    )


def test_an_engine_pooled_before_testsupport_loaded_is_caught_on_its_next_use(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sentinel_url: str, database: str
) -> None:
    pytester.makepyfile(earlyplugin=EARLY_PLUGIN)
    # `-p` imports it before `pythonpath` applies; it imports `service` (not installed) from the root.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(pytester.path), str(ROOT)]))
    result = escape(
        pytester, monkeypatch, sentinel_url, EARLY_TESTS, "-p", "earlyplugin", "-k", database, subprocess=True
    )
    assert failed_passed_skipped(result) == (1, 0, 0)
    refused(
        result,
        sentinel_url,
        [
            "*ForeignEngineError: test_suite.py::test_writes_through_the_early_engine[[]*[]] uses testsupport's "
            f"database, but a connection was opened on the engine for {shown(sentinel_url)} (held by "
            "`ownapp.engine`, `earlyplugin.engine`*), created before testsupport was configured (at ownapp.py:* "
            "(write), called from test_suite.py:* (test_writes_through_the_early_engine), during *It was created "
            "before testsupport was configured, by a conftest.py, a `-p` plugin or a module they import: if that is "
            "an old conftest.py that builds the app's engine, delete that code*"
        ],
    )


def test_every_door_out_of_the_outer_transaction_is_refused_there(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, database: str, database_url: str
) -> None:
    result = run(pytester, monkeypatch, OUTER_DOORS, ASYNCIO, "-k", database)
    server = database != "sqlite"  # PostgreSQL and MariaDB alike
    assert failed_passed_skipped(result) == (9 if server else 8, 2, 0 if server else 1)
    for how, test in [
        ("a COMMIT (the transaction's commit()*", "test_a_transaction_object"),
        ("`COMMIT` sent as SQL", "test_b_sql_text[[]*-COMMIT[]]"),
        ("`END` sent as SQL", "test_b_sql_text[[]*-  END[]]"),
        ("`ROLLBACK` sent as SQL", "test_b_sql_text[[]*-/[*] c [*]/ ROLLBACK[]]"),
        ("a COMMIT (*run_sync)", "test_c_run_sync"),
        ("a COMMIT (*run_sync)", "test_d_the_sessions_connection"),
    ]:
        result.stdout.fnmatch_lines(
            [f"*TestEngineMisuseError: test_suite.py::{test}* ended its outer transaction with {how}*"]
        )


def test_a_sync_test_using_db_session_fails_naming_the_fix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, database: str, database_url: str
) -> None:
    result = run(pytester, monkeypatch, SYNC_TEST, ASYNCIO, "-k", database)
    assert failed_passed_skipped(result) == (1, 1, 0)
    result.stdout.fnmatch_lines(
        [
            "*test_sync[[]*[]] is a plain `def` test and called a coroutine method of `db_session` without awaiting "
            "it (coroutine 'AsyncSession.execute' was never awaited)*Fix: make it `async def`*"
        ]
    )


def test_allow_other_engines_lets_a_fixture_reach_a_database_of_its_own_there_only(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sentinel_url: str
) -> None:
    result = escape(pytester, monkeypatch, sentinel_url, ALLOWED)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*DatabaseBlockedError: test_suite.py::test_not_allowed_outside_it did not ask for the database, but it *"]
    )
