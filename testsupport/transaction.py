"""Per-test isolation: every test runs inside one outer transaction that is rolled back.

The app's handlers commit and roll back as in production; their sessions (and `db_session`) join
the test's connection with ``join_transaction_mode="create_savepoint"``, so those become RELEASE
and ROLLBACK TO SAVEPOINT, and the outer transaction is rolled back at teardown, whether the test
passed or failed.
https://docs.sqlalchemy.org/en/20/orm/session_transaction.html#joining-a-session-into-an-external-transaction-such-as-for-test-suites

Where the transaction is opened. anyio's plugin runs each step of an async fixture (set-up, and
teardown) as a separate hand-off to its runner task (``TestRunner.run_asyncgen_fixture``): two
trips through the event loop per test. So `db_connection` and `db_session` are plain fixtures:
`db_connection` yields a guarded but not yet connected connection (``AsyncConnection()`` does no
I/O), and `pytest_pyfunc_call` below wraps the async test function so the same runner call opens
it (connect, BEGIN) before the test body and closes it (sessions, ROLLBACK) after it. When
something must use the connection before the test body (a function-scoped async fixture that
depends on it, directly or through `app`, `client` or `db_session`; a sync or Hypothesis test;
real-commit mode), it is opened at set-up instead, by the async fixture `testsupport_transaction`.
Both paths open, guard and finish it through ``testsupport.net.test_connection``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from contextlib import AsyncExitStack
from inspect import isasyncgenfunction, iscoroutinefunction
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from testsupport import cleanup
from testsupport.net import NET, PLAN, Mode, TestConnection, test_connection


class TestTransaction:
    """One test's connection, and the sessions `db_session` made on it (closed before its rollback)."""

    __test__ = False  # not a test class, whatever pytest's python_classes say

    def __init__(self, connection: AsyncConnection, started: bool) -> None:
        self.connection = connection
        self.started = started
        self.sessions: list[AsyncSession] = []

    def session(self, sessions: async_sessionmaker[AsyncSession], unstarted_bind: AsyncEngine) -> AsyncSession:
        """A session of ``sessions`` on this connection. An AsyncSession needs a connected bind, so
        one made before the connection is opened is bound to ``unstarted_bind`` (the refusing
        engine) until `started` rebinds it."""
        session = sessions(bind=self.connection if self.started else unstarted_bind)
        self.sessions.append(session)
        return session

    def start(self, stack: AsyncExitStack) -> None:
        """The connection is open: rebind the sessions made before, and close every session (each
        one even if another's close raised) before the rollback ``stack`` runs after this."""
        self.started = True
        for session in self.sessions:  # Session.bind is a plain public attribute
            session.bind = self.connection
            session.sync_session.bind = self.connection.sync_connection
        stack.push_async_callback(self._close_sessions)

    async def _close_sessions(self) -> None:
        async with AsyncExitStack() as sessions:
            for session in self.sessions:
                sessions.push_async_callback(session.close)
            self.sessions.clear()


_TRANSACTION = pytest.StashKey[TestTransaction]()
_current: list[TestTransaction] = []  # the running test's, while its db_connection is set up


def current_transaction() -> TestTransaction | None:
    """The running test's transaction (for testsupport.factories), if it uses the database."""
    return _current[-1] if _current else None


@pytest.fixture
async def testsupport_transaction(schema: AsyncEngine) -> AsyncIterator[TestTransaction]:
    """The test's connection opened at set-up (the slower path; see `db_connection`)."""
    async with AsyncExitStack() as stack:
        transaction = TestTransaction(await stack.enter_async_context(test_connection(schema, None)), started=False)
        transaction.start(stack)
        yield transaction


@pytest.fixture(scope="session")
async def testsupport_sequences(schema: AsyncEngine, running_app: object) -> None:
    """Where the sequences stand once the app has started (its lifespan may seed rows), before
    any test: what the restore after a real-commit test sets them back to (testsupport.cleanup).
    Read here, not at the first real-commit test: `nextval` is never rolled back, so savepoint
    tests move them. The test engine allowed as during the lifespan, every other engine refused
    (not a trusted fixture: a lifespan's background task may be writing meanwhile)."""
    with NET.app_lifespan(schema.sync_engine):
        await cleanup.remember_counters(schema)


@pytest.fixture
def db_connection(
    schema: AsyncEngine, running_app: object, testsupport_sequences: None, request: pytest.FixtureRequest
) -> Iterator[AsyncConnection]:
    """This test's connection, inside a transaction rolled back at teardown; with
    ``@pytest.mark.db(transaction=True)`` a plain pooled connection, the database put back to the
    migrated template after (testsupport.cleanup). The app is started first (`running_app`), so
    what its lifespan writes is there in every test."""
    item = request.node
    if _opens_in_test_body(item):
        transaction = TestTransaction(TestConnection(schema), started=False)  # pytest_pyfunc_call opens it
    else:
        transaction = request.getfixturevalue("testsupport_transaction")
    item.stash[_TRANSACTION] = transaction
    _current.append(transaction)
    try:
        yield transaction.connection
    finally:
        _current.remove(transaction)
        del item.stash[_TRANSACTION]


@pytest.fixture
def db_session(
    db_connection: AsyncConnection,
    app_sessions: async_sessionmaker[AsyncSession],
    refusing_engine: AsyncEngine,
    request: pytest.FixtureRequest,
) -> AsyncSession:
    """A session for the test's own reads and writes, made like the handlers' (`app_sessions`) on
    their connection: it sees what they committed, they see what it committed, and its commits are
    savepoints too. Closed before the test's rollback."""
    transaction: TestTransaction | None = request.node.stash.get(_TRANSACTION, None)
    if transaction is None or transaction.connection is not db_connection:
        pytest.fail(
            "db_session needs testsupport's own db_connection fixture. Fix: an override of db_connection "
            "must request it (def db_connection(db_connection): ...), not replace it.",
            pytrace=False,
        )
    return transaction.session(app_sessions, refusing_engine)


# trylast: inside testsupport.interrupt's wrapper, so the connection is opened and rolled back in
# anyio's runner task, outside the task a Ctrl-C cancels (as the fixture did before).
@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    # Around anyio's own pytest_pyfunc_call, which runs pyfuncitem.obj on the session's runner.
    transaction = pyfuncitem.stash.get(_TRANSACTION, None)
    if transaction is None or transaction.started:  # none, or opened at set-up (testsupport_transaction)
        return (yield)
    test = pyfuncitem.obj
    connection = transaction.connection
    assert isinstance(connection, TestConnection)
    schema = connection.engine

    @functools.wraps(test)
    async def in_transaction(**kwargs: Any) -> object:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(test_connection(schema, connection))
            transaction.start(stack)
            return await test(**kwargs)

    pyfuncitem.obj = in_transaction
    try:
        return (yield)
    finally:
        pyfuncitem.obj = test


def _opens_in_test_body(item: pytest.Item) -> bool:
    """Whether the connection can be opened inside the test's own runner call: a savepoint-mode
    async test (not Hypothesis's, whose body anyio runs once per example) that requests
    db_connection statically and has no async fixture needing it before the body runs."""
    if not isinstance(item, pytest.Function) or "db_connection" not in item.fixturenames:
        return False
    if item.stash.get(PLAN, (Mode.BLOCKED, ""))[0] is not Mode.SAVEPOINT:
        return False
    test = item.obj
    if not iscoroutinefunction(test) or hasattr(test, "hypothesis"):
        return False
    # A wider-scoped fixture cannot depend on db_connection (pytest's ScopeMismatch): only
    # function-scoped async fixtures are looked at, and most tests have none. Judged once per
    # definition, not per test: the closure is walked for every test that uses the database.
    fixtures = item._fixtureinfo.name2fixturedefs
    candidates = [name for name, defs in fixtures.items() if defs and _async_per_test(defs[-1])]
    if not candidates:
        return True
    needs = _needs_connection(item)
    return not any(needs(name) for name in candidates)


_judged: dict[pytest.FixtureDef[Any], bool] = {}


def _async_per_test(fixturedef: pytest.FixtureDef[Any]) -> bool:
    """Whether ``fixturedef`` is a function-scoped async fixture (testsupport_transaction aside)."""
    judged = _judged.get(fixturedef)
    if judged is None:
        func = fixturedef.func
        judged = _judged[fixturedef] = (
            fixturedef.scope == "function"
            and fixturedef.argname != "testsupport_transaction"
            and (iscoroutinefunction(func) or isasyncgenfunction(func))
        )
    return judged


def _needs_connection(item: pytest.Function) -> Callable[[str], bool]:
    """name -> whether that fixture (as this item resolves it) depends on db_connection."""
    defs = item._fixtureinfo.name2fixturedefs

    @functools.cache
    def needs(name: str) -> bool:
        if name == "db_connection":
            return True
        fixturedefs = defs.get(name)
        if not fixturedefs:
            return False
        return any(arg != name and needs(arg) for arg in fixturedefs[-1].argnames)

    return needs
