"""The safety net: nothing a test does reaches a database outside the test's transaction.

Installed once per session (``install``), it watches every SQLAlchemy engine in the process, so
it also sees engines testsupport never handed out (an app's module-global engine, one its lifespan
builds from settings):

- ``do_connect`` on the ``Engine`` class (DialectEvents, class level): before any engine opens a
  new DBAPI connection, so a refused engine never even connects;
- ``checkout`` on each engine's pool: every checkout (``Engine.connect()``, sessions, the sync
  engine under an ``AsyncEngine``). A pool event, not ``engine_connect``: a ConnectionEvents
  listener turns on the per-statement event dispatch of the engines it covers, and at class level
  that is every engine. A refused checkout goes back to its pool before the error.
https://docs.sqlalchemy.org/en/20/core/events.html#sqlalchemy.events.DialectEvents.do_connect
https://docs.sqlalchemy.org/en/20/core/events.html#sqlalchemy.events.PoolEvents.checkout

Engine creation has no event, so ``Engine.__init__`` is wrapped: it records each engine's URL
(password hidden) and the code that created it, for the messages, and adds the pool listener. An
engine made before testsupport loaded is still refused new connections by ``do_connect``.

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
import functools
import importlib
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
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

from testsupport import cleanup

# Fixtures of these modules build the test databases (`database_url`, `postgres_url`, ...) and the
# test engine (`engine`, `schema`): trusted with both.
TRUSTED_MODULES = ("testsupport.databases", "testsupport.engine")
# Trusted wherever defined: a project may override `schema` to migrate its own way.
TRUSTED_FIXTURES = frozenset({"schema"})
# The engine the fixture of this name (in a trusted module) creates is the test engine.
TEST_ENGINE_FIXTURE = "engine"

# Frames of these are never where an engine was created: import machinery (importlib, and
# testsupport resolving the `testsupport_*` keys at start-up), test collection.
_SKIPPED = (
    *(os.path.dirname(module.__file__ or "") for module in (sqlalchemy, _pytest, pytest, pluggy, importlib)),
    *(
        os.path.join(os.path.dirname(__file__), name)
        for name in ("config.py", "plugin.py", "resolve.py", "app_target.py", "session_source.py")
    ),
    "<",
)


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
    "hand the app the test's sessions: set testsupport_sessionmaker to the async_sessionmaker its handlers "
    "use (a module-global one is rebound to each test's connection), or have the factory named by "
    "testsupport_app use the `sessionmaker=` / `engine=` it is given instead of building its own from "
    "settings, at import time or in its lifespan"
)
FIX_OWN_ENGINE = (
    "this test built that engine itself (or a function it called did): write through `db_session` or "
    "`db_connection`, which are on the test's database inside its transaction"
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
        self.fixtures: list[tuple[str, bool]] = []  # wider-scoped fixtures being set up: (name, trusted)
        self.trusted = 0
        self.current: Dialect | None = None  # the running test's engine
        self.grants = 0  # checkouts of the test engine allowed in savepoint mode
        self.active = False  # listeners stay on engines made while installed: they check this

    # -- what the hooks and fixtures tell it -------------------------------------------------

    def begin_test(self, item: pytest.Item) -> None:
        self.test += 1
        self.test_name = item.nodeid
        self.mode = item.stash.get(PLAN, (Mode.BLOCKED, ""))[0]
        self.current, self.grants = None, 0

    def end_test(self) -> None:
        self.mode, self.current, self.grants = Mode.IDLE, None, 0

    @contextmanager
    def trusting(self) -> Iterator[None]:
        self.trusted += 1
        try:
            yield
        finally:
            self.trusted -= 1

    @contextmanager
    def app_lifespan(self, engine: Engine | None) -> Iterator[None]:
        """The app's lifespan starting or stopping (`running_app`): the test engine as in a
        real-commit test (its work committed into the session's database), any other engine
        refused as in a database test. Without an engine (`running_bare_app`), every one refused."""
        saved = self.mode, self.current, self.test_name
        if engine is None:
            self.mode, self.test_name = Mode.BLOCKED, "the app's lifespan, started for `bare_client` (no database),"
        else:
            self.mode, self.current, self.test_name = Mode.TRANSACTION, engine.dialect, "the app's lifespan"
        try:
            yield
        finally:
            self.mode, self.current, self.test_name = saved

    # -- engines -----------------------------------------------------------------------------

    def seen(self, engine: Engine) -> None:
        """An engine was created: remember its URL and where, and whether it is the test engine."""
        # Built by the running test itself (its body or a function-scoped fixture), not shared.
        own = self.mode is not Mode.IDLE and not self.fixtures
        self.engines[engine.dialect] = EngineInfo(
            engine.url.render_as_string(hide_password=True), _creation_site(), self.test if own else 0
        )
        event.listen(engine.pool, "checkout", functools.partial(self._on_checkout, engine.dialect))
        if self.fixtures and self.fixtures[-1] == (TEST_ENGINE_FIXTURE, True):
            self.watch_test_engine(engine)

    def watch_test_engine(self, engine: Engine) -> None:
        self.test_dialects.add(engine.dialect)

    def mark_refusing(self, engine: AsyncEngine) -> None:
        """An engine that refuses every connection with a message of its own (`refusing_engine`)."""
        self.refusing.add(engine.sync_engine.dialect)

    def describe(self, dialect: Dialect) -> str:
        info = self.engines.get(dialect)
        if info is None:
            return f"the engine for {dialect.name}+{dialect.driver} (created before testsupport loaded)"
        return f"the engine for {info.url}, created at {info.where}"

    # -- the checks --------------------------------------------------------------------------

    def check(self, dialect: Dialect, consume: bool) -> NetError | None:
        """None if this connection may be opened / checked out now, else the error to raise."""
        if dialect in self.test_dialects:
            return self._check_test_engine(dialect, consume)
        if self.trusted or self.mode in (Mode.IDLE, Mode.OWN):
            return None
        if dialect in self.refusing:  # it raises its own message, except in a blocked test
            return self._blocked(dialect) if self.mode is Mode.BLOCKED else None
        if self.mode is Mode.BLOCKED:
            info = self.engines.get(dialect)
            if info is not None and info.test == self.test:
                return None  # an engine this test built itself: its own business
            return self._blocked(dialect)
        info = self.engines.get(dialect)
        fix = FIX_OWN_ENGINE if info is not None and info.test == self.test else FIX_CONFIGURATION
        return ForeignEngineError(
            f"{self.test_name} uses testsupport's database, but a connection was opened on "
            f"{self.describe(dialect)}. That is not the test's engine: its reads and writes go to another "
            f"database, outside the test's transaction, and are never rolled back. Fix: {fix}."
        )

    def _check_test_engine(self, dialect: Dialect, consume: bool) -> NetError | None:
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
                return TestEngineMisuseError(
                    f"{self.test_name} checked out a second connection from the test "
                    f"engine ({self.describe(dialect)}) in savepoint mode, e.g. `async with engine.begin()` "
                    "in the test, or app code using the engine instead of the sessionmaker it was given. That "
                    "connection is outside the test's transaction: its writes would be committed and leak into "
                    f"later tests. Fix: {REAL_COMMITS}."
                )
        where = f"fixture `{self.fixtures[-1][0]}`" if self.fixtures else (self.test_name or "code outside any test")
        return TestEngineMisuseError(
            f"{where} used the test engine ({self.describe(dialect)}) outside any "
            "test's transaction: what it writes is committed for real and leaks into every later test. "
            f"Fix: {REAL_COMMITS}; for data every test needs, a function-scoped fixture that writes through "
            "`db_session`."
        )

    def _blocked(self, dialect: Dialect) -> NetError:
        used = (
            "the app's sessionmaker, which outside the `app` fixture is bound to no database (`refusing_engine`)"
            if dialect in self.refusing
            else self.describe(dialect)
        )
        return DatabaseBlockedError(
            f"{self.test_name} did not ask for the database, but it used "
            f"{used}. Database access is blocked in tests that do not request it, so "
            f"nothing reaches a database no test set up. Fix: {USE_DATABASE}."
        )

    # -- the listeners -----------------------------------------------------------------------

    def _on_do_connect(self, dialect: Dialect, _record: ConnectionPoolEntry, *_: Any) -> None:
        if self.active:
            error = self.check(dialect, consume=False)
            if error is not None:
                raise error

    def _on_checkout(self, dialect: Dialect, *_: Any) -> None:
        if self.active:
            error = self.check(dialect, consume=True)
            if error is not None:
                raise error  # the pool takes the connection back


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
            if frame.f_code.co_name == "<module>":
                break  # a module's import: what called it is import machinery
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


class TestConnection(AsyncConnection):
    """`db_connection` in savepoint mode: its outer transaction belongs to testsupport, so ending it
    from the test fails at that line. (A method override, not the engine's commit/rollback events:
    those would turn on per-statement event dispatch for the whole engine.)"""

    __test__ = False
    armed = False

    async def commit(self) -> None:
        self._refuse("commit")
        await super().commit()

    async def rollback(self) -> None:
        self._refuse("rollback")
        await super().rollback()

    async def close(self) -> None:
        self._refuse("close")
        await super().close()

    def _refuse(self, what: str) -> None:
        if self.armed:
            raise TestEngineMisuseError(
                f"{NET.test_name} called `db_connection.{what}()` on its connection's outer transaction "
                "(commit, rollback and close are testsupport's: it rolls that transaction back at teardown). "
                "A commit would leave the test's rows in the database for every later test; after a rollback or "
                "close the app's later writes would run outside it. Fix: commit and roll back through a session "
                "(`db_session.commit()` is a savepoint release), or mark the test "
                "`@pytest.mark.db(transaction=True)` for real commits, with the tables emptied afterwards."
            )


@asynccontextmanager
async def test_connection(engine: AsyncEngine, connection: TestConnection | None) -> AsyncIterator[AsyncConnection]:
    """The test's connection. Savepoint mode: one connection, its outer transaction rolled back at
    teardown, any other use of the engine refused. Real-commit mode: a plain pooled connection, the
    app gets its own from the pool, and the tables are emptied afterwards. ``connection``: a
    ``TestConnection(engine)`` handed out before it was connected (savepoint mode only)."""
    NET.watch_test_engine(engine.sync_engine)  # a test engine not made by the `engine` fixture
    NET.current = engine.sync_engine.dialect
    if NET.mode not in (Mode.SAVEPOINT, Mode.TRANSACTION):  # requested with getfixturevalue()
        NET.mode = Mode.SAVEPOINT
    if NET.mode is Mode.TRANSACTION:
        assert connection is None, "real-commit mode opens its connection at set-up"
        try:
            async with engine.connect() as pooled:
                yield pooled
        finally:
            with NET.trusting():
                await cleanup.empty_tables(engine)
        return
    NET.grants = 1
    if connection is None:
        connection = TestConnection(engine)
    async with connection:
        transaction = await connection.begin()
        connection.armed = True
        try:
            yield connection
        finally:
            connection.armed = False  # our own rollback and close are not misuse
            if transaction.is_active:
                await transaction.rollback()
            else:  # defensive: whatever ended it, do not hand its DBAPI state to the next test
                await connection.invalidate()


test_connection.__test__ = False  # type: ignore[attr-defined]


def app_bind(connection: AsyncConnection) -> AsyncConnection | AsyncEngine:
    """What the app's sessionmaker is bound to in this test: the test's connection (savepoint
    mode), or the test engine, so concurrent requests get connections of their own (real commits)."""
    return connection.engine if NET.mode is Mode.TRANSACTION else connection


# -- installation ---------------------------------------------------------------------------------


PLAN = pytest.StashKey[tuple[Mode, str]]()


def plan(item: pytest.Item) -> tuple[Mode, str]:
    """The test's mode, and the error for a marker it cannot honour (empty if none)."""
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


class NetPlugin:
    """The pytest side: which test is running, in which mode, and which fixture is being set up.
    Plain hooks where possible, and the plan made once at collection: they run for every test."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            item.stash[PLAN] = plan(item)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        NET.begin_test(item)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        problem = item.stash.get(PLAN, (Mode.BLOCKED, ""))[1]
        if problem:
            pytest.fail(problem, pytrace=False)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        # Fixtures tear down unwatched; db_connection's teardown does its own work. The next
        # begin_test resets the rest.
        NET.end_test()

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Generator[None, object, object]:
        # Only wider-scoped fixtures are tracked: a function-scoped one cannot be set up inside them,
        # and an engine made outside them during a test is the test's own. tryfirst: outside anyio's
        # wrapper, which swaps `func` for a runner shim.
        if fixturedef.scope == "function":
            return (yield)
        trusted = (
            getattr(fixturedef.func, "__module__", "") in TRUSTED_MODULES or fixturedef.argname in TRUSTED_FIXTURES
        )
        NET.fixtures.append((fixturedef.argname, trusted))
        NET.trusted += trusted
        try:
            return (yield)
        finally:
            NET.fixtures.pop()
            NET.trusted -= trusted

    def __init__(self, owner: bool = False) -> None:
        self.owner = owner

    def pytest_unconfigure(self) -> None:
        if self.owner:
            uninstall()


_installed: list[Callable[[], None]] = []


def install(config: pytest.Config) -> None:
    """Watch every engine for this session (called from the plugin's pytest_configure). An inline
    pytester run inside a run shares the listeners; only the run that installed them removes them."""
    owner = not _installed
    if owner:
        install_listeners()
    config.pluginmanager.register(NetPlugin(owner), "testsupport-net")


def install_listeners() -> None:
    """The process-wide part: the engine-creation record and the class-level listeners."""
    original_init = Engine.__init__

    def recording_init(self: Engine, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        NET.seen(self)

    Engine.__init__ = recording_init  # type: ignore[method-assign]
    event.listen(Engine, "do_connect", NET._on_do_connect)
    NET.active = True

    def remove() -> None:
        NET.active = False
        Engine.__init__ = original_init  # type: ignore[method-assign]
        event.remove(Engine, "do_connect", NET._on_do_connect)

    _installed.append(remove)


def uninstall() -> None:
    while _installed:
        _installed.pop()()
