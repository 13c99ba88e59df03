"""The pytest side of the net: which test runs, in which mode and phase, which wider-scoped fixture
is being set up or torn down, and the reports of what it refused. Plain hooks where possible, and
the plan made once at collection: they run for every test."""

from __future__ import annotations

import warnings
from collections.abc import Generator, Iterator
from inspect import iscoroutinefunction
from typing import Any

import pytest

from testsupport.net.messages import SYNC_TEST, USE_DATABASE, NetError
from testsupport.net.record import TRUSTED_FIXTURES, TRUSTED_MODULES, Fixture, Mode, Stage
from testsupport.net.state import NET, Net

PLAN = pytest.StashKey[tuple[Mode, str]]()
SYNC = pytest.StashKey[str]()  # a sync test that requests this async-only fixture
# Fixtures a sync test cannot use: their methods are coroutines.
ASYNC_ONLY = ("db_session", "db_connection")


def real_commits(item: pytest.Item) -> bool:
    """`@pytest.mark.db(transaction=True)` on the test, its class or module (the closest wins)."""
    for marker in item.iter_markers("db"):
        if "transaction" in marker.kwargs:
            return bool(marker.kwargs["transaction"])
    return False


def plan(item: pytest.Item) -> tuple[Mode, str]:
    """The test's mode, and the error for a marker or a fixture it cannot honour (empty if none)."""
    names = getattr(item, "fixturenames", ())
    if "db_connection" in names:
        return (Mode.TRANSACTION if real_commits(item) else Mode.SAVEPOINT), ""
    if real_commits(item):
        return Mode.OWN if "database" in names else Mode.BLOCKED, (
            f"{item.nodeid} is marked `db(transaction=True)` but does not use the test's database. "
            "Fix: request `client`, `app`, `db_session` or `db_connection`."
        )
    if "database" in names:
        return Mode.OWN, ""
    if item.get_closest_marker("db") is not None:
        return Mode.BLOCKED, f"{item.nodeid} is marked `db` but requests no database fixture. Fix: {USE_DATABASE}."
    return Mode.BLOCKED, ""


def _async_only_fixture(item: pytest.Item) -> str:
    """The first of `db_session` / `db_connection` a plain `def` test names in its own arguments."""
    function = getattr(item, "obj", None)
    function = getattr(getattr(function, "hypothesis", None), "inner_test", function)  # Hypothesis's wrapper
    info = getattr(item, "_fixtureinfo", None)
    if function is None or info is None or iscoroutinefunction(function):
        return ""
    return next((name for name in ASYNC_ONLY if name in info.argnames), "")


def _raised(error: BaseException | None) -> Iterator[BaseException]:
    """``error``, its causes and contexts, and the members of exception groups."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([current.__cause__, current.__context__, *getattr(current, "exceptions", ())])


def refusals_text(refused: list[NetError], count: int) -> str:
    lines = [f"{type(error).__name__}: {error}" for error in refused]
    if count > len(refused):
        lines.append(f"... and {count - len(refused)} more")
    return (
        f"testsupport's safety net refused {count} database access(es) that did not fail here (in another thread "
        "or task, or caught by the code):\n" + "\n\n".join(lines)
    )


class NetPlugin:
    def __init__(self, owner: bool) -> None:
        """``owner``: the run that installed the listeners. An inline pytester run inside a run shares
        them and NET: it gives the outer run its state back at its end."""
        self.saved: Net | None = None if owner else NET.snapshot()
        NET.stage, NET.mode, NET.fixtures, NET.trusted = Stage.IMPORT, Mode.IDLE, [], 0
        NET.refused, NET.refusals = [], 0
        self.leftover: tuple[list[NetError], int] = ([], 0)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            item.stash[PLAN] = plan(item)
            if item.stash[PLAN][0] is not Mode.BLOCKED and (fixture := _async_only_fixture(item)):
                item.stash[SYNC] = fixture
        NET.stage = Stage.BETWEEN

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        NET.begin_test(item, item.stash.get(PLAN, (Mode.BLOCKED, ""))[0])

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        NET.stage = Stage.CALL
        problem = item.stash.get(PLAN, (Mode.BLOCKED, ""))[1]
        if problem:
            pytest.fail(problem, pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, object, object]:
        # A coroutine dropped unawaited warns as it is freed, right at the line that made it.
        fixture = pyfuncitem.stash.get(SYNC, "")
        if not fixture:
            return (yield)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            result = yield
        unawaited = [w for w in caught if issubclass(w.category, RuntimeWarning) and "never awaited" in str(w.message)]
        for w in caught:
            if w not in unawaited:  # the others go on to pytest's own handling
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if unawaited:
            message = SYNC_TEST.format(test=pyfuncitem.nodeid, fixture=fixture, warning=unawaited[0].message)
            pytest.fail(message, pytrace=False)
        return result

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        # The test's mode holds through its fixtures' teardown (a database test's fixture writing
        # through another engine is refused as in the test); wider-scoped ones are outside it.
        NET.stage = Stage.TEARDOWN

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        report = yield
        if NET.refusals:
            self._report(report, call)
        if call.when == "teardown":
            NET.end_test()
        return report

    @staticmethod
    def _report(report: pytest.TestReport, call: pytest.CallInfo[None]) -> None:
        """Fail the phase with the refusals it did not already fail with."""
        refused, count = NET.take()
        raised = {id(error) for error in _raised(call.excinfo.value if call.excinfo else None)}
        unseen = [error for error in refused if id(error) not in raised]
        count -= len(refused) - len(unseen)
        if count <= 0:
            return
        text = refusals_text(unseen, count)
        if report.failed:
            report.sections.append(("testsupport safety net", text))
        else:
            report.outcome, report.longrepr = "failed", text

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Generator[None, object, object]:
        # Only wider-scoped fixtures are tracked: a function-scoped one is the test's (set up and torn
        # down in its mode). tryfirst: outside anyio's wrapper, which swaps `func` for a runner shim.
        if fixturedef.scope == "function":
            return (yield)
        trusted = (
            getattr(fixturedef.func, "__module__", "") in TRUSTED_MODULES or fixturedef.argname in TRUSTED_FIXTURES
        )
        setup = Fixture(fixturedef.argname, fixturedef.scope, trusted)
        teardown = Fixture(fixturedef.argname, fixturedef.scope, trusted, teardown=True)
        # Finalizers run last-in first-out: `leave` after the fixture's own teardown, `enter` before.
        fixturedef.addfinalizer(lambda: _leave(teardown))
        _enter(setup)
        try:
            result = yield
        finally:
            _leave(setup)
        fixturedef.addfinalizer(lambda: _enter(teardown))
        return result

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # trylast: after pytest's own sessionfinish, which tears down what an interrupted run left.
        NET.stage, NET.mode = Stage.END, Mode.IDLE
        self.leftover = NET.take()
        if self.leftover[1] and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        refused, count = self.leftover
        if count:
            terminalreporter.section("testsupport safety net", sep="=", red=True, bold=True)
            terminalreporter.line(refusals_text(refused, count).replace("did not fail here", "no test reported"))

    def pytest_unconfigure(self) -> None:
        # The owner leaves the listeners on, refusing all but testsupport's own work until the process
        # ends: a daemon thread still writing after the session would otherwise get through.
        if self.saved is None:
            NET.stage, NET.mode, NET.fixtures, NET.trusted = Stage.END, Mode.IDLE, [], 0
        else:
            NET.restore(self.saved)


def _enter(fixture: Fixture) -> None:
    NET.fixtures.append(fixture)
    NET.trusted += fixture.trusted


def _leave(fixture: Fixture) -> None:
    if any(entry is fixture for entry in NET.fixtures):
        NET.fixtures.remove(fixture)
        NET.trusted -= fixture.trusted
