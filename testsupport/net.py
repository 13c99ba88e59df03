"""The safety net: nothing a test does reaches a database outside the test's transaction.

Installed once per session (``install``), it watches every SQLAlchemy engine in the process
through class-level events, so it also sees engines testsupport never handed out (an app's
module-global engine, one its lifespan builds from settings):

- ``Engine`` ``do_connect`` (DialectEvents, accepted on the ``Engine`` class): before a new DBAPI
  connection is opened, so a refused engine never even connects;
- ``Engine`` ``engine_connect`` (ConnectionEvents, class level): every checkout through
  ``Engine.connect()``, which sessions and ``AsyncEngine`` use (the sync engine under an
  ``AsyncEngine`` fires it). A refused checkout is returned to its pool before the error.
https://docs.sqlalchemy.org/en/20/core/events.html#sqlalchemy.events.DialectEvents.do_connect
https://docs.sqlalchemy.org/en/20/core/events.html#sqlalchemy.events.ConnectionEvents.engine_connect

Engine creation has no event, so ``Engine.__init__`` is wrapped to remember each engine's URL
(password hidden) and the code that created it, for the messages.

What it refuses, per test:
- a test that uses testsupport's database (``db_connection``, hence ``db_session``, ``app``,
  ``client``): any other engine (``ForeignEngineError``); in savepoint mode a second checkout of the
  test engine (``TestEngineMisuseError``); committing, rolling back or closing the test's outer
  transaction (``TestEngineMisuseError``);
- a test that did not ask for a database: any engine it did not create itself
  (``DatabaseBlockedError``, pytest-django's blocker);
- outside tests: any use of the test engine except by testsupport's own fixtures (a fixture that
  writes through it would leak into every later test).
A test that requests ``database`` but not ``db_connection`` (the migration checks, an app built on
an unreachable database) manages its own engines and is not watched.
"""

from __future__ import annotations

import enum
import os
import sys
import weakref
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import _pytest
import pluggy
import pytest
import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

from testsupport import cleanup

# Fixtures of these modules build the test databases and the test engine: trusted with both.
TRUSTED_MODULES = ("testsupport.databases", "testsupport.engine", "testsupport.postgres")
# The engine the fixture of this name (in a trusted module) creates is the test engine.
TEST_ENGINE_FIXTURE = "engine"

# Frames of these are never where an engine was created: import machinery, test collection.
_SKIPPED = (*(os.path.dirname(module.__file__ or "") for module in (sqlalchemy, _pytest, pluggy)), "<")


class NetError(RuntimeError):
    """Base of the safety net's errors."""


class ForeignEngineError(NetError):
    """A database test used an engine other than the test's."""


class DatabaseBlockedError(NetError):
    """A test that did not ask for the database used one."""


class TestEngineMisuseError(NetError):
    """The test engine or the test's outer transaction was used in a way that would leak rows."""

    __test__ = False  # not a test class, whatever its name


class Mode(enum.Enum):
    IDLE = "idle"  # between tests, or in teardown
    BLOCKED = "blocked"  # a test that did not ask for the database
    OWN = "own"  # a test that requests `database` but not `db_connection`: its own engines
    SAVEPOINT = "savepoint"  # db_connection: one connection, one outer transaction rolled back
    TRANSACTION = "transaction"  # db_connection with @pytest.mark.db(transaction=True): real commits


@dataclass(frozen=True)
class EngineInfo:
    url: str
    where: str
    test: int  # serial number of the test that created it (0: outside any test)


FIX_CONFIGURATION = (
    "configure testsupport_sessionmaker / the app factory's `sessionmaker`/`engine` parameter so the app "
    "uses the test's engine (testsupport's `app_sessions` and `engine` fixtures), and build no engine of its "
    "own at import time or in its lifespan when one is given"
)
USE_DATABASE = (
    "request `client` or `app` (the app on the test's database), or `db_session` / `db_connection`: the test "
    "then runs on each database target inside a transaction rolled back at teardown. For real commits add "
    "`@pytest.mark.db(transaction=True)` (tables are emptied after the test)"
)
REAL_COMMITS = (
    "use `db_session` / `db_connection` (the test's transaction), or mark the test "
    "`@pytest.mark.db(transaction=True)` for real connections and commits, with the tables emptied afterwards"
)


class Net:
    def __init__(self) -> None:
        self.engines: weakref.WeakKeyDictionary[Dialect, EngineInfo] = weakref.WeakKeyDictionary()
        self.test_dialects: weakref.WeakSet[Dialect] = weakref.WeakSet()
        self.refusing: weakref.WeakSet[Dialect] = weakref.WeakSet()
        self.mode = Mode.IDLE
        self.test = 0  # serial of the running test
        self.test_name = ""
        self.fixtures: list[tuple[str, bool, str]] = []  # fixtures being set up: (name, trusted, scope)
        self.trusted = 0
        self.current: Dialect | None = None  # the running test's engine
        self.grants = 0  # checkouts of the test engine allowed in savepoint mode
        self.outer: Connection | None = None  # the savepoint-mode test connection, while armed

    # -- what the hooks and fixtures tell it -------------------------------------------------

    def begin_test(self, item: pytest.Item) -> None:
        self.test += 1
        self.test_name = item.nodeid
        names = getattr(item, "fixturenames", ())
        if "db_connection" in names:
            self.mode = Mode.TRANSACTION if real_commits(item) else Mode.SAVEPOINT
        elif "database" in names:
            self.mode = Mode.OWN
        else:
            self.mode = Mode.BLOCKED
        self.current, self.grants, self.outer = None, 0, None

    def end_test(self) -> None:
        self.mode, self.current, self.grants, self.outer = Mode.IDLE, None, 0, None

    @contextmanager
    def in_fixture(self, name: str, trusted: bool, scope: str) -> Iterator[None]:
        self.fixtures.append((name, trusted, scope))
        self.trusted += trusted
        try:
            yield
        finally:
            self.fixtures.pop()
            self.trusted -= trusted

    @contextmanager
    def trusting(self) -> Iterator[None]:
        self.trusted += 1
        try:
            yield
        finally:
            self.trusted -= 1

    # -- engines -----------------------------------------------------------------------------

    def seen(self, engine: Engine) -> None:
        """An engine was created: remember its URL and where, and whether it is the test engine."""
        # Built by the running test itself (its body or a function-scoped fixture), not shared.
        own = self.mode is not Mode.IDLE and (not self.fixtures or self.fixtures[-1][2] == "function")
        self.engines[engine.dialect] = EngineInfo(
            engine.url.render_as_string(hide_password=True), _creation_site(), self.test if own else 0
        )
        if self.fixtures and self.fixtures[-1][:2] == (TEST_ENGINE_FIXTURE, True):
            self.watch_test_engine(engine)

    def watch_test_engine(self, engine: Engine) -> None:
        if engine.dialect in self.test_dialects:
            return
        self.test_dialects.add(engine.dialect)
        event.listen(engine, "commit", self._on_outer_end)
        event.listen(engine, "rollback", self._on_outer_end)

    def mark_refusing(self, engine: AsyncEngine) -> None:
        """An engine that refuses every connection with a message of its own (`refusing_engine`)."""
        self.refusing.add(engine.sync_engine.dialect)

    def describe(self, dialect: Dialect, url: str | None = None) -> str:
        info = self.engines.get(dialect)
        if info is None:
            return (
                f"the engine for {url or dialect.name + '+' + str(dialect.driver)} (created before testsupport loaded)"
            )
        return f"the engine for {info.url}, created at {info.where}"

    # -- the checks --------------------------------------------------------------------------

    def check(self, dialect: Dialect, url: str | None, consume: bool) -> str | None:
        """None if this connection may be opened / checked out now, else the error message."""
        if dialect in self.test_dialects:
            return self._check_test_engine(dialect, url, consume)
        if self.trusted or self.mode in (Mode.IDLE, Mode.OWN):
            return None
        if dialect in self.refusing:  # it raises its own message, except in a blocked test
            return self._blocked(dialect, url) if self.mode is Mode.BLOCKED else None
        if self.mode is Mode.BLOCKED:
            info = self.engines.get(dialect)
            if info is not None and info.test == self.test:
                return None  # an engine this test built itself: its own business
            return self._blocked(dialect, url)
        return (
            f"ForeignEngineError: {self.test_name} uses testsupport's database, but a connection was opened on "
            f"{self.describe(dialect, url)}. That is not the test's engine: its reads and writes go to another "
            "database, outside the test's transaction, and are never rolled back. "
            f"Fix: {FIX_CONFIGURATION}."
        )

    def _check_test_engine(self, dialect: Dialect, url: str | None, consume: bool) -> str | None:
        if self.trusted:
            return None
        if dialect is self.current:
            if self.mode is Mode.TRANSACTION:
                return None
            if self.mode is Mode.SAVEPOINT and self.grants > 0:
                if consume:
                    self.grants -= 1
                return None
            if self.mode is Mode.SAVEPOINT:
                return (
                    f"TestEngineMisuseError: {self.test_name} checked out a second connection from the test "
                    f"engine ({self.describe(dialect, url)}) in savepoint mode, e.g. `async with engine.begin()` "
                    "in the test, or app code using the engine instead of the sessionmaker it was given. That "
                    "connection is outside the test's transaction: its writes would be committed and leak into "
                    f"later tests. Fix: {REAL_COMMITS}."
                )
        where = f"fixture `{self.fixtures[-1][0]}`" if self.fixtures else (self.test_name or "code outside any test")
        return (
            f"TestEngineMisuseError: {where} used the test engine ({self.describe(dialect, url)}) outside any "
            "test's transaction: what it writes is committed for real and leaks into every later test. "
            f"Fix: {REAL_COMMITS}; for data every test needs, a function-scoped fixture that writes through "
            "`db_session`."
        )

    def _blocked(self, dialect: Dialect, url: str | None) -> str:
        return (
            f"DatabaseBlockedError: {self.test_name} did not ask for the database, but it used "
            f"{self.describe(dialect, url)}. Database access is blocked in tests that do not request it, so "
            f"nothing reaches a database no test set up. Fix: {USE_DATABASE}."
        )

    # -- the listeners -----------------------------------------------------------------------

    def _on_do_connect(self, dialect: Dialect, _record: ConnectionPoolEntry, *_: Any) -> None:
        message = self.check(dialect, None, consume=False)
        if message is not None:
            raise _error(message)

    def _on_engine_connect(self, connection: Connection) -> None:
        message = self.check(
            connection.dialect, connection.engine.url.render_as_string(hide_password=True), consume=True
        )
        if message is not None:
            connection.close()  # back to its pool: nothing leaks, nothing is left for the GC
            raise _error(message)

    def _on_outer_end(self, connection: Connection) -> None:
        if connection is self.outer and self.outer is not None:
            self.outer = None  # one error per test; the teardown rolls back
            raise TestEngineMisuseError(
                f"{self.test_name} committed, rolled back or closed its connection's outer transaction "
                "(`db_connection.commit()`, `.rollback()`, `.close()`). testsupport rolls that transaction back "
                "at teardown; a commit would leave the test's rows in the database for every later test, and "
                "after a rollback or close the app's later writes would run outside it. Fix: commit and roll "
                "back through a session (`db_session.commit()` is a savepoint release), or mark the test "
                "`@pytest.mark.db(transaction=True)` for real commits, with the tables emptied afterwards."
            )


def _error(message: str) -> NetError:
    kind, _, text = message.partition(": ")
    return {"ForeignEngineError": ForeignEngineError, "DatabaseBlockedError": DatabaseBlockedError}.get(
        kind, TestEngineMisuseError
    )(text)


def _creation_site(limit: int = 2) -> str:
    """The first frames outside SQLAlchemy and this module: where the engine was created."""
    frame = sys._getframe(2)
    sites: list[str] = []
    while frame is not None and len(sites) < limit:
        path = frame.f_code.co_filename
        if not path.startswith(_SKIPPED) and path != __file__:
            try:
                shown = os.path.relpath(path)
            except ValueError:  # another drive (Windows)
                shown = path
            if shown.startswith(".."):
                shown = path
            sites.append(f"{shown}:{frame.f_lineno} ({frame.f_code.co_name})")
        frame = frame.f_back  # type: ignore[assignment]
    return ", called from ".join(sites) or "an unknown place"


def real_commits(item: pytest.Item) -> bool:
    """`@pytest.mark.db(transaction=True)` on the test, its class or module (the closest wins)."""
    for marker in item.iter_markers("db"):
        if "transaction" in marker.kwargs:
            return bool(marker.kwargs["transaction"])
    return False


NET = Net()


# -- the test's connection (db_connection's body) -----------------------------------------------


@asynccontextmanager
async def test_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """The test's connection. Savepoint mode: one connection, its outer transaction rolled back at
    teardown, any other use of the engine refused. Real-commit mode: a plain pooled connection, the
    app gets its own from the pool, and the tables are emptied afterwards."""
    NET.watch_test_engine(engine.sync_engine)  # a test engine not made by the `engine` fixture
    NET.current = engine.sync_engine.dialect
    if NET.mode not in (Mode.SAVEPOINT, Mode.TRANSACTION):  # requested with getfixturevalue()
        NET.mode = Mode.SAVEPOINT
    if NET.mode is Mode.TRANSACTION:
        try:
            async with engine.connect() as connection:
                yield connection
        finally:
            with NET.trusting():
                await cleanup.empty_tables(engine)
        return
    NET.grants = 1
    async with engine.connect() as connection:
        transaction = await connection.begin()
        NET.outer = connection.sync_connection
        try:
            yield connection
        finally:
            NET.outer = None  # our own rollback is not misuse
            if transaction.is_active:
                await transaction.rollback()
            elif not connection.closed:  # after a misuse its DBAPI state is unknown: discard it
                await connection.invalidate()


test_connection.__test__ = False  # type: ignore[attr-defined]


def app_bind(connection: AsyncConnection) -> AsyncConnection | AsyncEngine:
    """What the app's sessionmaker is bound to in this test: the test's connection (savepoint
    mode), or the test engine, so concurrent requests get connections of their own (real commits)."""
    return connection.engine if NET.mode is Mode.TRANSACTION else connection


# -- installation ---------------------------------------------------------------------------------


class NetPlugin:
    """The pytest side: which test is running, in which mode, and which fixture is being set up."""

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        NET.begin_test(item)
        result = yield  # first the other plugins' set-up, which their teardown relies on
        names = getattr(item, "fixturenames", ())
        if real_commits(item) and "db_connection" not in names:
            pytest.fail(
                f"{item.nodeid} is marked `db(transaction=True)` but does not use the test's database. "
                "Fix: request `client`, `app`, `db_session` or `db_connection`.",
                pytrace=False,
            )
        elif any(True for _ in item.iter_markers("db")) and "database" not in names:
            pytest.fail(
                f"{item.nodeid} is marked `db` but requests no database fixture. Fix: {USE_DATABASE}.", pytrace=False
            )
        return result

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        NET.mode = Mode.IDLE  # fixtures tear down unwatched; db_connection's teardown still runs
        try:
            return (yield)
        finally:
            NET.end_test()

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Generator[None, object, object]:
        # tryfirst: outside anyio's wrapper, which swaps `func` for a runner shim.
        trusted = getattr(fixturedef.func, "__module__", "") in TRUSTED_MODULES
        with NET.in_fixture(fixturedef.argname, trusted, fixturedef.scope):
            return (yield)

    def pytest_unconfigure(self) -> None:
        uninstall()


_installed: list[Callable[[], None]] = []


def install(config: pytest.Config) -> None:
    """Watch every engine for this session (called from the plugin's pytest_configure)."""
    if _installed:
        return
    original_init = Engine.__init__

    def recording_init(self: Engine, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        NET.seen(self)

    Engine.__init__ = recording_init  # type: ignore[method-assign]
    event.listen(Engine, "do_connect", NET._on_do_connect)
    event.listen(Engine, "engine_connect", NET._on_engine_connect)
    plugin = NetPlugin()
    config.pluginmanager.register(plugin, "testsupport-net")

    def uninstall() -> None:
        Engine.__init__ = original_init  # type: ignore[method-assign]
        event.remove(Engine, "do_connect", NET._on_do_connect)
        event.remove(Engine, "engine_connect", NET._on_engine_connect)

    _installed.append(uninstall)


def uninstall() -> None:
    while _installed:
        _installed.pop()()
